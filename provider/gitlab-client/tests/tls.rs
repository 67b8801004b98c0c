//! The client over real TLS (rustls on both sides) with a private CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use gitlab_runner_api::{ClientConfig, GitlabClient, GitlabError, SecretString};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA (PEM) and a certificate it issued for 127.0.0.1.
fn private_pki() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test GitLab CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca_cert.pem(), leaf.der().clone(), key)
}

/// An HTTPS server answering every request with runner 1's details.
async fn https_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> SocketAddr {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let body = r#"{"id":1,"paused":true,"status":"online"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address
}

fn config(address: SocketAddr) -> ClientConfig {
    ClientConfig::new(
        format!("https://{address}"),
        SecretString::from("glpat-tls-test"),
    )
}

#[tokio::test]
async fn private_ca_given_as_pem_is_trusted() {
    let (ca_pem, cert, key) = private_pki();
    let address = https_server(cert, key).await;
    let mut config = config(address);
    config.ca_certificates_pem = Some(ca_pem);
    let client = GitlabClient::new(config).unwrap();
    let runner = client.get_runner(1).await.unwrap();
    assert_eq!(runner.id, 1);
    assert!(runner.paused);
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error_that_is_not_retried() {
    let (_ca_pem, cert, key) = private_pki();
    let address = https_server(cert, key).await;
    let client = GitlabClient::new(config(address)).unwrap();
    let error = client.get_runner(1).await.unwrap_err();
    assert!(matches!(error, GitlabError::Tls { .. }), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(text.contains("CA certificates setting"), "{text}");
}

#[tokio::test]
async fn skipping_verification_accepts_any_certificate() {
    let (_ca_pem, cert, key) = private_pki();
    let address = https_server(cert, key).await;
    let mut config = config(address);
    config.insecure_skip_tls_verify = true;
    let client = GitlabClient::new(config).unwrap();
    assert_eq!(client.get_runner(1).await.unwrap().id, 1);
}
