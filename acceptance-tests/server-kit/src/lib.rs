//! What the test world's HTTP servers (the Kubernetes API and OCI registry test servers) share:
//! a CA and serving certificate generated at start ([`tls`]), the HTTP/1.1 accept loop, plain
//! or TLS, with graceful shutdown ([`serve`]), and the background runtime thread they run on
//! ([`thread`]); and, for their binaries, `main` with its start errors ([`binary`]) and stopping on
//! SIGINT/SIGTERM ([`signals`]).

pub mod binary;
pub mod serve;
pub mod signals;
pub mod thread;
pub mod tls;

pub use binary::{ArgsError, StartError};
pub use serve::serve;
pub use thread::ServerThread;
pub use tls::{ServerIdentity, ServerTls, TlsError};
