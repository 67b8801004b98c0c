//! A CA and a serving certificate generated at start, and the rustls server configuration.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Errors creating the TLS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating certificates")]
    Certificate(#[from] rcgen::Error),
    #[error("configuring TLS")]
    Rustls(#[from] rustls::Error),
}

/// Who the server is: the names in its CA and certificate.
#[derive(Debug, Clone, Copy)]
pub struct ServerIdentity<'a> {
    /// The CA's common name, e.g. `kube-test-server CA`.
    pub ca_common_name: &'a str,
    /// The serving certificate's common name.
    pub common_name: &'a str,
    /// Subject alternative names besides `localhost`, `127.0.0.1` and `::1`.
    pub extra_names: &'a [&'a str],
}

/// The generated CA (PEM) and a server configuration presenting a certificate it signed.
pub struct ServerTls {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

/// Generates a CA and a server certificate valid for `localhost`, `127.0.0.1`, `::1` and the
/// identity's extra names; the server speaks HTTP/1.1 (ALPN).
pub fn generate(identity: ServerIdentity<'_>) -> Result<ServerTls, TlsError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, identity.ca_common_name);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .chain(identity.extra_names)
        .map(|name| (*name).to_owned())
        .collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, identity.common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;

    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        ca_pem: ca_cert.pem(),
        config: Arc::new(config),
    })
}
