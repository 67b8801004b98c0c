//! This server's CA and serving certificate (generated at start by `test_server_kit::tls`).

pub use test_server_kit::{ServerTls, TlsError};

/// A CA and a certificate for this server, valid for localhost, 127.0.0.1 and ::1.
pub fn generate() -> Result<ServerTls, TlsError> {
    test_server_kit::tls::generate(test_server_kit::ServerIdentity {
        ca_common_name: "kube-test-server CA",
        common_name: "kube-apiserver",
        extra_names: &["kubernetes.default.svc"],
    })
}
