//! What the test world's HTTP servers (the Kubernetes API and OCI registry test servers) share:
//! a CA and serving certificate generated at start ([`tls`]) and the HTTP/1.1 accept loop, plain
//! or TLS, with graceful shutdown ([`serve`]).

pub mod serve;
pub mod tls;

pub use serve::serve;
pub use tls::{ServerIdentity, ServerTls, TlsError};
