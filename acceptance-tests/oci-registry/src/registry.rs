//! Starting and stopping a server: [`TestRegistry`] runs the listener on its own thread and
//! Tokio runtime, so it works from sync tests and from any async runtime alike.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::{Auth, Authenticator};
use crate::context::{Context, Fault, LoggedRequest};
use crate::store::StoredManifest;
use crate::{app, http, tls};
use test_server_kit::ServerThread;

/// How to start a registry. Build it with `..Default::default()`: fields may be added.
#[derive(Debug, Clone)]
pub struct Options {
    /// Serve HTTPS with a generated CA (see [`TestRegistry::ca_pem`]). Default: plain HTTP.
    pub tls: bool,
    /// Authentication mode. Default: none.
    pub auth: Auth,
    /// Listen address. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Answer `Location` headers with absolute URLs (as distribution does) instead of
    /// paths. Default: paths.
    pub absolute_locations: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls: false,
            auth: Auth::None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            absolute_locations: false,
        }
    }
}

pub use test_server_kit::StartError;

/// A running OCI registry; stopped on drop.
pub struct TestRegistry {
    addr: SocketAddr,
    base_url: String,
    ca_pem: Option<String>,
    context: Arc<Context>,
    server: ServerThread,
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry")
            .field("base_url", &self.base_url)
            .field("tls", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl TestRegistry {
    /// Starts a registry. Returns once the listener accepts connections.
    pub fn start(options: Options) -> Result<TestRegistry, StartError> {
        let bind_error = |source| StartError::Bind {
            addr: options.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(options.listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let tls = if options.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let context = Arc::new(Context::new(
            Authenticator::new(options.auth.clone(), &base_url),
            base_url.clone(),
            options.absolute_locations,
        ));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("oci-registry-test-server")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let server_tls = tls.map(|t| t.config);
        let handler_ctx = context.clone();
        let server = ServerThread::spawn(
            "oci-registry-test-server-main",
            runtime,
            |stop| async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                http::serve(
                    listener,
                    server_tls,
                    move |req| app::handle(handler_ctx.clone(), req),
                    async move {
                        let _ = stop.await;
                    },
                )
                .await;
            },
        )
        .map_err(StartError::Runtime)?;
        Ok(TestRegistry {
            addr,
            base_url,
            ca_pem,
            context,
            server,
        })
    }

    /// `127.0.0.1:PORT`, the registry host as helm and image references spell it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `oci://127.0.0.1:PORT/<repo>` (pass `""` for the bare host).
    pub fn oci_url(&self, repo: &str) -> String {
        let repo = repo.trim_matches('/');
        if repo.is_empty() {
            format!("oci://{}", self.addr)
        } else {
            format!("oci://{}/{repo}", self.addr)
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The CA certificate (PEM) that signed the server certificate; `None` over plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Every answered request so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.context
            .log
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        if let Ok(mut log) = self.context.log.lock() {
            log.clear();
        }
    }

    /// The tags of `repo` in lexical order (empty for an unknown repository).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        self.context
            .store()
            .ok()
            .and_then(|s| {
                s.repositories
                    .get(repo)
                    .map(|r| r.tags.keys().cloned().collect())
            })
            .unwrap_or_default()
    }

    /// The repositories holding any blob or manifest, in lexical order.
    pub fn repositories(&self) -> Vec<String> {
        self.context
            .store()
            .map(|s| s.repositories.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The manifest a tag or digest names in `repo`.
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<StoredManifest> {
        self.context
            .store()
            .ok()?
            .manifest(repo, reference)
            .cloned()
    }

    /// A blob's bytes, if it is linked into `repo`.
    pub fn blob(&self, repo: &str, digest: &str) -> Option<Vec<u8>> {
        self.context
            .store()
            .ok()?
            .blob(repo, digest)
            .map(|b| b.to_vec())
    }

    /// Answers the next `n` requests (of any kind) with `status` and a spec-shaped error body
    /// (`UNAVAILABLE` for 503, `TOOMANYREQUESTS` for 429, `UNAUTHORIZED` for 401, `DENIED` for
    /// 403, `UNKNOWN` otherwise). `n = 0` cancels pending faults.
    pub fn fail_next(&self, n: u32, status: u16) {
        if let Ok(mut fault) = self.context.fault.lock() {
            *fault = (n > 0).then_some(Fault {
                remaining: n,
                status,
            });
        }
    }

    /// Stops the listener and the runtime (dropping the registry does the same).
    pub fn shutdown(mut self) {
        self.server.stop();
    }
}
