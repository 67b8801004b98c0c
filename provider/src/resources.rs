//! The provider's resource, data source and function types. Add a module per type and list it
//! here; the provider registers exactly what these functions return.

use std::sync::Arc;

use tfplugin::{DataSource, Function, Resource};

pub mod cache_secret;
pub mod cert_secret;
mod digest;
mod placement;
pub mod release;
pub mod runner;
mod secret_object;
mod secret_resource;
pub mod token_secret;

pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(token_secret::TokenSecret::default()),
        Arc::new(cert_secret::CertSecret::default()),
        Arc::new(cache_secret::CacheSecret::default()),
        Arc::new(release::Release),
        Arc::new(runner::GitlabRunner),
    ]
}

pub fn data_sources() -> Vec<Arc<dyn DataSource>> {
    Vec::new()
}

pub fn functions() -> Vec<Arc<dyn Function>> {
    vec![Arc::new(crate::functions::RunnerConfig)]
}
