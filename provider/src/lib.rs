//! The `gitlabrunner` provider: runs GitLab Runner on Kubernetes via the `gitlab-runner` Helm chart.
//!
//! - [`GitLabRunnerProvider`]: the provider (schema, configuration, the list of resources).
//! - [`config`]: the provider block (`kubernetes`, `helm_path`, `gitlab`) and the
//!   [`ProviderConfig`] every resource receives (`ctx.provider::<ProviderConfig>()`).
//! - [`resources`]: the resource types (one module each).

pub mod certificates;
pub mod config;
pub mod drain;
pub mod functions;
pub mod kube;
pub mod provider;
pub mod resources;

pub use config::{GitLabSettings, ProviderConfig};
pub use provider::GitLabRunnerProvider;

/// The provider's source address (with host, so one configuration serves Terraform and OpenTofu).
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/gitlabrunner/gitlabrunner";

/// The provider's type name: resource types start with `gitlabrunner_`.
pub const PROVIDER_TYPE_NAME: &str = "gitlabrunner";
