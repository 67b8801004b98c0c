//! A classic Helm chart repository for the tests: the files of one directory (`index.yaml` and the
//! chart archives `helm package` / `helm repo index` wrote there) served over plain HTTP or TLS
//! with its own CA, optionally behind Basic authentication — what a private ChartMuseum, Nexus or
//! Artifactory repository looks like to helm. Built on the same kit as the other test servers.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use test_server_kit::{ServerIdentity, ServerThread, tls};

/// How the repository is served.
#[derive(Debug, Clone, Default)]
pub struct RepositoryOptions {
    /// HTTPS with a CA generated at start ([`ChartRepository::ca_pem`]).
    pub tls: bool,
    /// `(username, password)` for Basic authentication; `None` serves anyone.
    pub basic_auth: Option<(String, String)>,
}

/// One request the repository answered. Credentials are never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRequest {
    /// The file asked for (the path without its leading `/`).
    pub name: String,
    pub status: u16,
    /// Whether the request carried an `Authorization: Basic` header.
    pub basic_auth: bool,
}

/// A running chart repository; stopped on drop.
pub struct ChartRepository {
    url: String,
    ca_pem: Option<String>,
    log: Arc<Mutex<Vec<ServedRequest>>>,
    _server: ServerThread,
}

impl ChartRepository {
    /// Serves the files directly in `root` on a free 127.0.0.1 port.
    pub fn start(root: &Path, options: RepositoryOptions) -> ChartRepository {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind chart repository");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("listener address");
        let material = options.tls.then(|| {
            tls::generate(ServerIdentity {
                ca_common_name: "chart repository test CA",
                common_name: "chart repository",
                extra_names: &[],
            })
            .expect("TLS material")
        });
        let scheme = if material.is_some() { "https" } else { "http" };
        let ca_pem = material.as_ref().map(|m| m.ca_pem.clone());
        let server_tls = material.map(|m| m.config);
        let log = Arc::new(Mutex::new(Vec::new()));
        let site = Arc::new(Site {
            root: root.to_path_buf(),
            expected_authorization: options.basic_auth.map(|(user, password)| {
                format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
            }),
            log: Arc::clone(&log),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = ServerThread::spawn("chart-repository", runtime, |stop| async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            test_server_kit::serve(
                listener,
                server_tls,
                move |request| {
                    let site = Arc::clone(&site);
                    async move { Ok::<_, Infallible>(site.answer(&request)) }
                },
                async move {
                    let _ = stop.await;
                },
            )
            .await;
        })
        .expect("start chart repository");
        ChartRepository {
            url: format!("{scheme}://{address}"),
            ca_pem,
            log,
            _server: server,
        }
    }

    /// `http(s)://127.0.0.1:PORT`, what `repository` and `helm repo index --url` take.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA that signs the repository's certificate (TLS only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// Names of the files served with 200.
    pub fn served(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.name)
            .collect()
    }
}

/// What the handler needs.
struct Site {
    root: PathBuf,
    expected_authorization: Option<String>,
    log: Arc<Mutex<Vec<ServedRequest>>>,
}

impl Site {
    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let name = request.uri().path().trim_start_matches('/').to_owned();
        let authorization = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let basic_auth = authorization.is_some_and(|v| v.starts_with("Basic "));
        let response = if request.method() != hyper::Method::GET {
            plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n")
        } else if self
            .expected_authorization
            .as_deref()
            .is_some_and(|expected| authorization != Some(expected))
        {
            let mut refused = plain(StatusCode::UNAUTHORIZED, "401 Unauthorized\n");
            refused.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Basic realm=\"charts\""),
            );
            refused
        } else {
            self.file(&name)
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(ServedRequest {
                name,
                status: response.status().as_u16(),
                basic_auth,
            });
        }
        response
    }

    /// A plain file directly under the root, or 404.
    fn file(&self, name: &str) -> Response<Full<Bytes>> {
        let plain_name = !name.is_empty() && !name.contains('/') && !name.contains("..");
        match plain_name
            .then(|| std::fs::read(self.root.join(name)).ok())
            .flatten()
        {
            Some(bytes) => {
                let mut response = Response::new(Full::new(Bytes::from(bytes)));
                let content_type = if name.ends_with(".yaml") {
                    "application/x-yaml"
                } else {
                    "application/octet-stream"
                };
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(content_type),
                );
                response
            }
            None => plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    fn get(repository: &ChartRepository, name: &str, authorization: Option<&str>) -> String {
        let address = repository.url().trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        let header = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /{name} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn files_are_served_only_with_the_right_credentials() {
        let root = tempfile::tempdir().expect("root");
        std::fs::write(root.path().join("index.yaml"), "apiVersion: v1\n").expect("index");
        let repository = ChartRepository::start(
            root.path(),
            RepositoryOptions {
                tls: false,
                basic_auth: Some(("u".into(), "p".into())),
            },
        );
        let good = format!("Basic {}", STANDARD.encode("u:p"));
        let bad = format!("Basic {}", STANDARD.encode("u:wrong"));

        let anonymous = get(&repository, "index.yaml", None);
        assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
        assert!(
            anonymous.contains("www-authenticate: Basic realm=\"charts\""),
            "{anonymous}"
        );
        assert!(get(&repository, "index.yaml", Some(&bad)).starts_with("HTTP/1.1 401"));
        let served = get(&repository, "index.yaml", Some(&good));
        assert!(served.starts_with("HTTP/1.1 200"), "{served}");
        assert!(served.ends_with("apiVersion: v1\n"), "{served}");
        assert!(get(&repository, "../etc/passwd", Some(&good)).starts_with("HTTP/1.1 404"));
        assert!(get(&repository, "missing.tgz", Some(&good)).starts_with("HTTP/1.1 404"));

        let log = repository.requests();
        assert_eq!(log.len(), 5);
        assert_eq!(
            (
                log[0].status,
                log[0].basic_auth,
                log[2].status,
                log[2].basic_auth
            ),
            (401, false, 200, true)
        );
        assert_eq!(repository.served(), vec!["index.yaml"]);
    }
}
