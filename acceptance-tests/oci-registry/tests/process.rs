//! The binary's ready line and auth flags, and HTTPS with the generated CA.

// Helpers outside #[test] functions unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;

use oci_registry_test_server::{Options, TestRegistry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Sends `GET /v2/` over TLS trusting only `ca_pem`; returns the status line.
fn https_get_base(host: &str, ca_pem: &str) -> Result<String, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, TcpStream::connect(host)?);
    write!(
        tls,
        "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_string())
}

#[test]
fn https_is_served_with_a_certificate_from_the_exposed_ca() {
    let registry = TestRegistry::start(Options {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    assert!(registry.base_url().starts_with("https://127.0.0.1:"));
    let ca = registry.ca_pem().unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        https_get_base(&registry.host(), ca).unwrap(),
        "HTTP/1.1 200 OK"
    );

    let other = TestRegistry::start(Options {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    let foreign_ca = other.ca_pem().unwrap();
    assert!(
        https_get_base(&registry.host(), foreign_ca).is_err(),
        "another CA must not verify"
    );
    assert!(
        TestRegistry::start(Options::default())
            .unwrap()
            .ca_pem()
            .is_none()
    );
}

#[test]
fn urls_name_the_host_and_repository() {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let host = registry.host();
    assert!(host.starts_with("127.0.0.1:") && !host.ends_with(":0"));
    assert_eq!(registry.oci_url("charts"), format!("oci://{host}/charts"));
    assert_eq!(
        registry.oci_url("/charts/x/"),
        format!("oci://{host}/charts/x")
    );
    assert_eq!(registry.oci_url(""), format!("oci://{host}"));
    assert_eq!(registry.base_url(), format!("http://{host}"));
}

#[test]
fn binary_prints_a_ready_line_and_takes_the_password_from_the_environment() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oci-registry-test-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "--bearer",
            "robot",
            "--anonymous-pull",
        ])
        .env("OCI_TEST_PASSWORD", "process-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let host = ready["host"].as_str().unwrap().to_string();
    assert_eq!(ready["url"], format!("https://{host}"));
    let ca = ready["ca_pem"].as_str().unwrap();
    let status = https_get_base(&host, ca);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        status.unwrap(),
        "HTTP/1.1 401 Unauthorized",
        "bearer mode challenges /v2/"
    );
}

#[test]
fn binary_refuses_auth_without_a_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_oci-registry-test-server"))
        .args(["--basic", "robot"])
        .env_remove("OCI_TEST_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OCI_TEST_PASSWORD"));
    let bad = Command::new(env!("CARGO_BIN_EXE_oci-registry-test-server"))
        .args(["--anonymous-pull"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
