//! An OCI distribution registry test server faithful enough for real `helm push`/`pull`
//! (helm 3 and 4) over plain HTTP or HTTPS, with no auth, basic auth, or the Docker token flow.
//!
//! Start one in-process with [`TestRegistry::start`], point helm at [`TestRegistry::oci_url`],
//! and assert on [`TestRegistry::requests`], [`TestRegistry::tags`] and
//! [`TestRegistry::manifest`]. See the crate README for what is implemented and what is
//! simplified.
//!
//! ```
//! use oci_registry_test_server::{Auth, Options, TestRegistry};
//!
//! let registry = TestRegistry::start(Options {
//!     tls: true,
//!     auth: Auth::Basic { username: "robot".into(), password: "pw".into() },
//!     ..Default::default()
//! })?;
//! assert_eq!(registry.oci_url("charts"), format!("oci://{}/charts", registry.host()));
//! assert!(registry.ca_pem().is_some_and(|pem| pem.contains("BEGIN CERTIFICATE")));
//! assert!(registry.tags("charts/gitlab-runner").is_empty());
//! # Ok::<(), oci_registry_test_server::StartError>(())
//! ```

mod app;
mod auth;
mod blobs;
mod context;
mod error;
mod http;
mod listing;
mod manifests;
mod reference;
mod registry;
mod route;
mod store;
mod tls;
mod token;
mod uploads;

pub use auth::{Auth, AuthKind, SERVICE};
pub use context::LoggedRequest;
pub use registry::{Options, StartError, TestRegistry};
pub use store::StoredManifest;
pub use tls::TlsError;
