//! Listening, connection handling, fault injection and the request log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use test_server_kit::{ServerIdentity, TlsError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::admin::TEST_PREFIX;
use crate::admin_client::{AdminClient, AdminClientError};
use crate::auth::token_name_for_log;
use crate::errors::ApiError;
use crate::model::{Fault, LoggedRequest, Seed};
use crate::store::{Store, StoreError};
use crate::timefmt;

/// State shared by every handler.
pub(crate) struct AppState {
    pub store: Store,
    /// `http(s)://127.0.0.1:PORT`, used in `web_url` and `Link` headers.
    pub base_url: String,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the listen address failed.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The seed is inconsistent (duplicate runner ids or tokens, unknown owner names).
    #[error("the seed is invalid")]
    Seed(#[from] StoreError),
    /// The seed file could not be read or parsed.
    #[error("cannot read the seed file {path}: {reason}")]
    SeedFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The CA and serving certificate for HTTPS could not be made.
    #[error("cannot set up HTTPS")]
    Tls(#[from] TlsError),
    /// The test-surface client could not be made to trust the server's CA.
    #[error("cannot build the test-surface client")]
    AdminClient(#[from] AdminClientError),
}

/// The connection was dropped on purpose (a `drop_connection` fault).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct ConnectionDropped;

/// A running GitLab API test server. Stops (and closes its connections) when dropped.
pub struct TestServer {
    url: String,
    address: SocketAddr,
    /// The CA that signed the serving certificate (HTTPS mode only).
    ca_pem: Option<String>,
    admin: AdminClient,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .field("https", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts an empty server on `127.0.0.1:0`.
    pub async fn start() -> Result<Self, ServerError> {
        Self::start_with("127.0.0.1:0", Seed::default()).await
    }

    /// Starts a server on `address` holding `seed` (restored by every reset).
    pub async fn start_with(address: &str, seed: Seed) -> Result<Self, ServerError> {
        Self::serve(bind(address).await?, seed)
    }

    /// Starts an empty HTTPS server on `127.0.0.1:0`, its certificate signed by a CA made for
    /// it ([`TestServer::ca_pem`]).
    pub async fn start_tls() -> Result<Self, ServerError> {
        Self::start_tls_with("127.0.0.1:0", Seed::default()).await
    }

    /// Starts an HTTPS server on `address` holding `seed` (restored by every reset).
    pub async fn start_tls_with(address: &str, seed: Seed) -> Result<Self, ServerError> {
        Self::serve_tls(bind(address).await?, seed)
    }

    /// Serves plain HTTP on an already bound listener.
    pub fn serve(listener: TcpListener, seed: Seed) -> Result<Self, ServerError> {
        Self::serve_on(listener, seed, false)
    }

    /// Serves HTTPS on an already bound listener, with a freshly generated CA.
    pub fn serve_tls(listener: TcpListener, seed: Seed) -> Result<Self, ServerError> {
        Self::serve_on(listener, seed, true)
    }

    fn serve_on(listener: TcpListener, seed: Seed, https: bool) -> Result<Self, ServerError> {
        let address = listener.local_addr().map_err(|source| ServerError::Bind {
            address: "<listener>".to_owned(),
            source,
        })?;
        let (url, tls, admin) = if https {
            let url = format!("https://{address}");
            let tls = server_tls(address)?;
            let admin = AdminClient::with_ca(&url, &tls.ca_pem)?;
            (url, Some(tls), admin)
        } else {
            let url = format!("http://{address}");
            let admin = AdminClient::new(&url);
            (url, None, admin)
        };
        let (ca_pem, acceptor) = match tls {
            Some(tls) => (Some(tls.ca_pem), Some(TlsAcceptor::from(tls.config))),
            None => (None, None),
        };
        let state = Arc::new(AppState {
            store: Store::new(seed)?,
            base_url: url.clone(),
        });
        let router = app(Arc::clone(&state));
        let (shutdown, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            Arc::clone(&state),
            router,
            stopped,
        ));
        Ok(Self {
            url,
            address,
            ca_pem,
            admin,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, or `https://…` in HTTPS mode (the GitLab instance URL, without
    /// `/api/v4`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http(s)://127.0.0.1:PORT/api/v4`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.url)
    }

    /// The PEM of the CA that signed the server's certificate — what a client must trust — in
    /// HTTPS mode; `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A client for the test surface (trusting the server's CA in HTTPS mode).
    pub fn admin(&self) -> AdminClient {
        self.admin.clone()
    }

    /// The request log, read in-process (same content as [`AdminClient::requests`]).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.store.request_log()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The application: GitLab routes, the test surface, GitLab's 404 for anything else.
fn app(state: Arc<AppState>) -> Router {
    crate::api::routes()
        .merge(crate::admin::routes())
        .merge(crate::token_api::routes())
        .fallback(|| async { ApiError::RouteNotFound })
        .with_state(state)
}

async fn bind(address: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// A CA and a certificate it signed for `localhost`, `127.0.0.1`, `::1` and, when the server
/// listens on another specific address, that address.
fn server_tls(address: SocketAddr) -> Result<test_server_kit::ServerTls, TlsError> {
    let ip = address.ip();
    let listen_name = ip.to_string();
    let extra_names: Vec<&str> = if ip.is_loopback() || ip.is_unspecified() {
        Vec::new()
    } else {
        vec![listen_name.as_str()]
    };
    test_server_kit::tls::generate(ServerIdentity {
        ca_common_name: "gitlab-test-server CA",
        common_name: "gitlab-test-server",
        extra_names: &extra_names,
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<AppState>,
    router: Router,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(
                        stream,
                        acceptor.clone(),
                        Arc::clone(&state),
                        router.clone(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    connections.shutdown().await;
}

/// Serves one connection, after the TLS handshake in HTTPS mode (a failed handshake — e.g. a
/// client that does not trust the CA — closes it).
async fn serve_connection(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    state: Arc<AppState>,
    router: Router,
) {
    match acceptor {
        None => serve_http(TokioIo::new(stream), state, router).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls_stream) => serve_http(TokioIo::new(tls_stream), state, router).await,
            Err(error) => tracing::debug!(%error, "TLS handshake failed"),
        },
    }
}

/// HTTP/1.1 on an established connection, until the client closes it or a fault drops it.
async fn serve_http<I>(io: I, state: Arc<AppState>, router: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        handle(Arc::clone(&state), router.clone(), request)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Serves one request: the test surface directly; API requests through the fault table and
/// into the request log.
async fn handle(
    state: Arc<AppState>,
    router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, ConnectionDropped> {
    let path = request.uri().path().to_owned();
    if path.starts_with(TEST_PREFIX) {
        return Ok(route(router, request.map(Body::new)).await);
    }
    let arrived = Instant::now();
    let since_start_ms = state.store.elapsed_ms();
    let at = timefmt::format(timefmt::now());
    let method = request.method().as_str().to_owned();
    let query = request.uri().query().map(redact_form);
    let token_name = token_name_for_log(&state.store, request.headers());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (parts, incoming) = request.into_parts();
    let bytes = incoming
        .collect()
        .await
        .map_err(|_| ConnectionDropped)?
        .to_bytes();
    let body = redact_body(content_type.as_deref(), &bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    let fault = state.store.take_fault(&method, &path);
    let lose_answer = fault == Some(Fault::DropResponse);

    let response = match &fault {
        Some(Fault::DropConnection) => None,
        Some(Fault::DropResponse) => Some(route(router, request).await),
        Some(Fault::Status { code, body }) => Some(status_response(*code, body.as_deref())),
        Some(Fault::RateLimit { retry_after_secs }) => Some(rate_limited(*retry_after_secs)),
        Some(Fault::Redirect { code, location }) => Some(redirect(*code, location)),
        Some(Fault::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
            Some(route(router, request).await)
        }
        None => Some(route(router, request).await),
    };
    state.store.log_request(LoggedRequest {
        seq: 0,
        method,
        path,
        query,
        status: response.as_ref().map(|response| response.status().as_u16()),
        token_name,
        at,
        since_start_ms,
        duration_ms: u64::try_from(arrived.elapsed().as_millis()).unwrap_or(u64::MAX),
        fault,
        body,
    });
    if lose_answer {
        return Err(ConnectionDropped);
    }
    response.ok_or(ConnectionDropped)
}

async fn route(router: Router, request: Request<Body>) -> Response<Body> {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Placeholder for a secret in the request log.
const REDACTED: &str = "<redacted>";

/// A form-encoded string with the value of any `token` parameter redacted.
fn redact_form(encoded: &str) -> String {
    if !encoded.contains("token") {
        return encoded.to_owned();
    }
    let mut redacted = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(encoded.as_bytes()) {
        if key == "token" {
            redacted.append_pair(&key, REDACTED);
        } else {
            redacted.append_pair(&key, &value);
        }
    }
    redacted.finish()
}

/// The body as text for the request log, with any `token` value redacted.
fn redact_body(content_type: Option<&str>, bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let is_json = content_type.is_some_and(|value| value.contains("json"));
    if is_json {
        return Some(match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(mut value) => {
                if let Some(token) = value.get_mut("token") {
                    *token = serde_json::Value::String(REDACTED.to_owned());
                }
                value.to_string()
            }
            Err(_) => format!("<{} bytes of invalid JSON>", bytes.len()),
        });
    }
    Some(match std::str::from_utf8(bytes) {
        Ok(text) => redact_form(text),
        Err(_) => format!("<{} bytes of binary data>", bytes.len()),
    })
}

fn status_response(code: u16, body: Option<&str>) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = body.map_or_else(
        || {
            serde_json::json!({
                "message": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"))
            })
            .to_string()
        },
        str::to_owned,
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A redirect to `location` with an empty JSON body (a non-3xx `code` becomes 302).
fn redirect(code: u16, location: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(StatusCode::is_redirection)
        .unwrap_or(StatusCode::FOUND);
    let mut response = Response::new(Body::from("{}"));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    response
}

/// GitLab's rate limiter answer: 429, `Retry-After` in seconds, plain-text body.
fn rate_limited(retry_after_secs: u64) -> Response<Body> {
    let mut response = Response::new(Body::from("Retry later\n"));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    headers.insert(
        "ratelimit-name",
        HeaderValue::from_static("throttle_authenticated_api"),
    );
    headers.insert("ratelimit-remaining", HeaderValue::from(0_u64));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_values_are_redacted_from_forms_and_json() {
        assert_eq!(
            redact_form("token=glrt-x&system_id=s_1"),
            "token=%3Credacted%3E&system_id=s_1"
        );
        assert_eq!(redact_form("paused=true"), "paused=true");
        assert_eq!(
            redact_body(
                Some("application/json"),
                br#"{"token":"glrt-x","system_id":"s"}"#
            ),
            Some(r#"{"system_id":"s","token":"<redacted>"}"#.to_owned())
        );
        assert_eq!(redact_body(None, b""), None);
        assert_eq!(
            redact_body(Some("application/x-www-form-urlencoded"), b"paused=true"),
            Some("paused=true".to_owned())
        );
    }
}
