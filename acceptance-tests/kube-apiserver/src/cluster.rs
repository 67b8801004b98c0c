//! Starting and stopping a server: [`TestCluster`] runs the API and admin listeners on their own
//! thread and Tokio runtime, so it works from sync tests and from any async runtime alike.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::admin_client::AdminClient;
use crate::api::{self, ApiContext};
use crate::auth::TokenGrant;
use crate::store::{Behaviour, Store};
use crate::{admin, http, ops, resources, tls};
use test_server_kit::ServerThread;

/// How to start a server.
#[derive(Clone)]
pub struct Options {
    /// Serve HTTPS with a generated CA and bearer-token auth (default). `false`: plain HTTP, no auth.
    pub https: bool,
    /// API listen address (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Admin listen address (default `127.0.0.1:0`).
    pub admin_listen: SocketAddr,
    /// Where to write the kubeconfig; a private temp dir when `None`.
    pub kubeconfig_path: Option<PathBuf>,
    /// The admin token written to the kubeconfig; random when `None`.
    pub token: Option<String>,
    /// More accepted tokens, possibly restricted.
    pub extra_tokens: Vec<TokenGrant>,
    /// Delay before a Deployment's new pods become Ready.
    pub ready_delay: Duration,
    /// Delay before a terminating pod disappears.
    pub pod_termination_grace: Duration,
    /// Namespaces to create at start in addition to default, kube-system, kube-public, kube-node-lease.
    pub namespaces: Vec<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("https", &self.https)
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("kubeconfig_path", &self.kubeconfig_path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("extra_tokens", &self.extra_tokens)
            .field("ready_delay", &self.ready_delay)
            .field("pod_termination_grace", &self.pod_termination_grace)
            .field("namespaces", &self.namespaces)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            https: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig_path: None,
            token: None,
            extra_tokens: Vec::new(),
            ready_delay: Duration::from_millis(200),
            pod_termination_grace: Duration::from_millis(200),
            namespaces: Vec::new(),
        }
    }
}

pub use test_server_kit::StartError;

/// A running Kubernetes API test server.
pub struct TestCluster {
    url: String,
    admin_url: String,
    token: Option<String>,
    ca_pem: Option<String>,
    kubeconfig: PathBuf,
    context: Arc<ApiContext>,
    /// Declared before `_temp`: the server stops before its kubeconfig directory goes.
    server: ServerThread,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("url", &self.url)
            .field("admin_url", &self.admin_url)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok(listener)
}

/// Renders a kubeconfig for a server URL (YAML).
pub fn kubeconfig_yaml(url: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    let mut cluster = format!("    server: {url}\n");
    if let Some(ca) = ca_pem {
        cluster.push_str(&format!(
            "    certificate-authority-data: {}\n",
            STANDARD.encode(ca)
        ));
    }
    let user_block = match token {
        Some(t) => format!("  user:\n    token: {t}\n"),
        None => "  user: {}\n".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-test-server\n  cluster:\n{cluster}users:\n- name: kube-test-server\n{user_block}contexts:\n- name: kube-test-server\n  context:\n    cluster: kube-test-server\n    user: kube-test-server\n    namespace: default\ncurrent-context: kube-test-server\npreferences: {{}}\n"
    )
}

/// Writes a file readable only by its owner.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

impl TestCluster {
    /// Starts a server and writes its kubeconfig. Returns once both listeners accept connections.
    pub fn start(options: Options) -> Result<TestCluster, StartError> {
        let api_listener = bind(options.listen)?;
        let admin_listener = bind(options.admin_listen)?;
        let api_addr = api_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: options.listen,
                source,
            })?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: options.admin_listen,
                source,
            })?;
        let (tls, token) = if options.https {
            (
                Some(tls::generate()?),
                Some(options.token.clone().unwrap_or_else(random_token)),
            )
        } else {
            (None, None)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{api_addr}");
        let admin_url = format!("http://{admin_addr}");

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kube-test-server")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let behaviour = Behaviour {
            ready_delay: options.ready_delay,
            pod_termination_grace: options.pod_termination_grace,
            check_volumes: true,
        };
        let store = Store::new(behaviour, runtime.handle().clone());
        seed(&store, &options.namespaces);
        let grants = token.as_ref().map(|t| {
            let mut grants = vec![TokenGrant::admin("kube-test-admin", t.clone())];
            grants.extend(options.extra_tokens.iter().cloned());
            grants
        });
        let context = Arc::new(ApiContext {
            store,
            grants,
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            server_address: api_addr.to_string(),
        });

        let (temp, kubeconfig) = match &options.kubeconfig_path {
            Some(p) => (None, p.clone()),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("kube-test-server-")
                    .tempdir()
                    .map_err(StartError::TempDir)?;
                let path = dir.path().join("kubeconfig");
                (Some(dir), path)
            }
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        write_private(
            &kubeconfig,
            &kubeconfig_yaml(&url, ca_pem.as_deref(), token.as_deref()),
        )
        .map_err(|source| StartError::Kubeconfig {
            path: kubeconfig.clone(),
            source,
        })?;

        let server_tls = tls.map(|t| t.config);
        let api_ctx = context.clone();
        let admin_ctx = context.clone();
        let server = ServerThread::spawn("kube-test-server-main", runtime, |stop| async move {
            let (Ok(api), Ok(admin_l)) = (
                tokio::net::TcpListener::from_std(api_listener),
                tokio::net::TcpListener::from_std(admin_listener),
            ) else {
                return;
            };
            let (stop_admin_tx, stop_admin_rx) = tokio::sync::oneshot::channel::<()>();
            let admin_task = tokio::spawn(http::serve(
                admin_l,
                None,
                move |req| admin::handle(admin_ctx.clone(), req),
                async move {
                    let _ = stop_admin_rx.await;
                },
            ));
            http::serve(
                api,
                server_tls,
                move |req| api::handle(api_ctx.clone(), req),
                async move {
                    let _ = stop.await;
                },
            )
            .await;
            let _ = stop_admin_tx.send(());
            let _ = admin_task.await;
        })
        .map_err(StartError::Runtime)?;
        Ok(TestCluster {
            url,
            admin_url,
            token,
            ca_pem,
            kubeconfig,
            context,
            server,
            _temp: temp,
        })
    }

    /// The API URL, e.g. `https://127.0.0.1:43127`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin surface URL (plain HTTP), e.g. `http://127.0.0.1:43128`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The admin bearer token (`None` in plain-HTTP mode).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The generated CA certificate in PEM (`None` in plain-HTTP mode).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The kubeconfig written at start (admin token, CA data, context `kube-test-server`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Writes another kubeconfig for this server using `token` (e.g. a restricted extra token).
    pub fn write_kubeconfig(&self, path: &Path, token: Option<&str>) -> Result<(), StartError> {
        write_private(
            path,
            &kubeconfig_yaml(&self.url, self.ca_pem.as_deref(), token),
        )
        .map_err(|source| StartError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A client for the admin surface.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.admin_url)
    }

    /// Direct in-process access to an object (no HTTP), e.g. for assertions.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<serde_json::Value> {
        let rt = resources::by_kind(kind).filter(|r| r.api_version() == api_version)?;
        self.context
            .store
            .with(|st| ops::get(st, rt, namespace, name).ok())
    }

    /// Stops the listeners and the runtime (dropping the cluster does the same).
    pub fn shutdown(mut self) {
        self.server.stop();
    }
}

fn seed(store: &Arc<Store>, extra: &[String]) {
    let Some(namespaces) = resources::by_kind("Namespace") else {
        return;
    };
    let options = ops::WriteOptions {
        manager: "kube-apiserver".into(),
        ..Default::default()
    };
    store.with(|st| {
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"]
            .into_iter()
            .map(str::to_string)
            .chain(extra.iter().cloned())
        {
            let _ = ops::create(
                st,
                namespaces,
                None,
                serde_json::json!({"metadata": {"name": name}}),
                &options,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_tokens() {
        let options = Options {
            token: Some("super-secret-admin-token".into()),
            extra_tokens: vec![TokenGrant::admin("ci", "super-secret-extra-token")],
            ..Default::default()
        };
        let text = format!("{options:?}");
        assert!(!text.contains("super-secret"), "{text}");
        let yaml = kubeconfig_yaml("https://127.0.0.1:1", Some("PEM"), Some("tok"));
        assert!(
            yaml.contains("    token: tok\n") && yaml.contains("certificate-authority-data: UEVN")
        );
        assert!(kubeconfig_yaml("http://127.0.0.1:1", None, None).contains("  user: {}\n"));
    }
}
