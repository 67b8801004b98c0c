//! The accept loop over plain TCP and TLS (trusting only the generated CA), and shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use test_server_kit::{ServerIdentity, serve, tls};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

async fn echo_path(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "you asked for {}",
        request.uri().path()
    )))))
}

async fn get(mut stream: impl AsyncRead + AsyncWrite + Unpin, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read answer");
    answer
}

fn identity() -> ServerIdentity<'static> {
    ServerIdentity {
        ca_common_name: "kit test CA",
        common_name: "kit test",
        extra_names: &["kit.test"],
    }
}

fn roots_of(ca_pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("add CA");
    }
    roots
}

fn connector(roots: rustls::RootCertStore) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn serves_plain_http_until_shutdown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, None, echo_path, async {
        let _ = stopped.await;
    }));

    let stream = TcpStream::connect(address).await.expect("connect");
    let answer = get(stream, "/v2/").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("you asked for /v2/"), "{answer}");

    stop.send(()).expect("server still running");
    server.await.expect("serve returns after shutdown");
    // The listener went away with the loop.
    assert!(TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn serves_tls_that_only_the_generated_ca_verifies() {
    let material = tls::generate(identity()).expect("TLS material");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(serve(
        listener,
        Some(material.config.clone()),
        echo_path,
        std::future::pending(),
    ));

    for name in ["localhost", "127.0.0.1", "kit.test"] {
        let tcp = TcpStream::connect(address).await.expect("connect");
        let server_name = ServerName::try_from(name.to_owned()).expect("server name");
        let stream = connector(roots_of(&material.ca_pem))
            .connect(server_name, tcp)
            .await
            .unwrap_or_else(|e| panic!("TLS handshake as {name}: {e}"));
        let answer = get(stream, "/healthz").await;
        assert!(answer.ends_with("you asked for /healthz"), "{answer}");
    }

    // Another run's CA does not verify this server.
    let foreign = tls::generate(identity()).expect("other TLS material");
    let tcp = TcpStream::connect(address).await.expect("connect");
    let refused = connector(roots_of(&foreign.ca_pem))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await;
    assert!(refused.is_err(), "a foreign CA verified the server");
}
