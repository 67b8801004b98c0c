//! Resolution of a [`KubernetesConnection`] into one effective, single-context kubeconfig.
//!
//! Precedence, highest first:
//! 1. fields set in the provider block (after [`KubernetesConnection::with_env_fallback`], the
//!    `KUBE_*` variables count as set fields);
//! 2. the files named by `config_path` / `config_paths`, with the context overrides;
//! 3. only when neither `host` nor a config path is set: `KUBECONFIG`, then `$HOME/.kube/config`,
//!    then the in-cluster service account (`KUBERNETES_SERVICE_HOST` and the mounted token).
//!
//! Explicit fields override the selected kubeconfig entry field by field. With `host` set and no
//! config path, no file is read at all (as in the hashicorp providers).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig,
    NamedAuthInfo, NamedCluster, NamedContext,
};
use secrecy::SecretString;
use tower::buffer::BufferLayer;

use crate::error::ConnectionError;
use crate::redact;
use crate::{ExecCredential, KubernetesConnection};

/// The name given to the single cluster, user and context of the effective kubeconfig.
pub const EFFECTIVE_NAME: &str = "gitlabrunner";

const IN_CLUSTER_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const DEFAULT_EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

/// Where the effective connection came from, for messages and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionSource {
    /// `host` and credentials from the provider block or `KUBE_*`; no file read.
    Explicit,
    /// `config_path` / `config_paths` (or `KUBE_CONFIG_PATH(S)`).
    ConfigFiles(Vec<PathBuf>),
    /// The `KUBECONFIG` environment variable (the files that exist).
    KubeconfigEnv(Vec<PathBuf>),
    /// `$HOME/.kube/config`.
    HomeKubeconfig(PathBuf),
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`).
    InCluster,
}

impl fmt::Display for ConnectionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => write!(f, "the provider's kubernetes settings"),
            Self::ConfigFiles(paths) => write!(f, "config_path(s) {paths:?}"),
            Self::KubeconfigEnv(paths) => write!(f, "KUBECONFIG {paths:?}"),
            Self::HomeKubeconfig(path) => write!(f, "{}", path.display()),
            Self::InCluster => write!(f, "the in-cluster service account"),
        }
    }
}

/// A connection resolved to a single-context kubeconfig: cluster, user and context are all
/// named [`EFFECTIVE_NAME`]; CA, client certificate and key are inline. `Debug` shows the server
/// and the source only.
#[derive(Clone)]
pub struct ResolvedConnection {
    pub(crate) kubeconfig: Kubeconfig,
    source: ConnectionSource,
    server: String,
    namespace: Option<String>,
}

impl fmt::Debug for ResolvedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedConnection")
            .field("server", &self.server)
            .field("source", &self.source)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl ResolvedConnection {
    /// The API server URL (always with a scheme).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Where the connection came from.
    pub fn source(&self) -> &ConnectionSource {
        &self.source
    }

    /// The selected context's namespace, if the kubeconfig set one.
    pub fn default_namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The effective single-context kubeconfig (holds secrets: do not log it).
    pub fn kubeconfig(&self) -> &Kubeconfig {
        &self.kubeconfig
    }

    /// A [`kube::Config`] for this connection (exec plugins run lazily, on first request).
    pub async fn kube_config(&self) -> Result<kube::Config, ConnectionError> {
        kube::Config::from_custom_kubeconfig(self.kubeconfig.clone(), &KubeConfigOptions::default())
            .await
            .map_err(|error| ConnectionError::KubeConfig {
                reason: error.to_string(),
            })
    }

    /// A [`kube::Client`] for this connection. Needs a tokio runtime.
    ///
    /// The client does not retry (kube's default retry is off): each call is one request, and
    /// the caller's one retry policy decides what to try again within the operation's time
    /// limit (the provider's `kube::Budget`), so retries never stack.
    pub async fn client(&self) -> Result<kube::Client, ConnectionError> {
        let mut config = self.kube_config().await?;
        config.default_retry = false;
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|error| {
            ConnectionError::Client {
                reason: error.to_string(),
            }
        })?;
        Ok(builder.with_layer(&BufferLayer::new(64)).build())
    }
}

impl KubernetesConnection {
    /// Resolves the connection. `env` supplies `KUBECONFIG`, `HOME` and the in-cluster variables;
    /// the `KUBE_*` fallbacks are applied separately by
    /// [`with_env_fallback`](Self::with_env_fallback).
    pub fn resolve(
        &self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedConnection, ConnectionError> {
        self.resolve_with(env, Path::new(IN_CLUSTER_DIR))
    }

    /// `KUBE_*` fallbacks, then [`resolve`](Self::resolve), both over the process environment.
    pub fn resolve_from_process_env(&self) -> Result<ResolvedConnection, ConnectionError> {
        let env = |name: &str| std::env::var(name).ok();
        self.clone().with_env_fallback(&env).resolve(&env)
    }

    pub(crate) fn resolve_with(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        in_cluster_dir: &Path,
    ) -> Result<ResolvedConnection, ConnectionError> {
        self.check_pem_fields()?;
        let (base, source) = self.base_kubeconfig(env, in_cluster_dir)?;
        let (mut cluster, mut auth_info, namespace) = self.select_entries(base.as_ref())?;
        self.apply_cluster_overrides(&mut cluster);
        self.apply_auth_overrides(&mut auth_info)?;
        inline_cluster_files(&mut cluster)?;
        inline_auth_files(&mut auth_info)?;
        if cluster.insecure_skip_tls_verify == Some(true) {
            // helm (client-go) refuses a CA together with insecure-skip-tls-verify.
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
        let server = normalize_server(cluster.server.as_deref())?;
        cluster.server = Some(server.clone());
        if let Some(proxy) = &cluster.proxy_url {
            validate_proxy_url(proxy)?;
        }
        check_client_certificate_pair(&auth_info)?;
        Ok(ResolvedConnection {
            kubeconfig: single_context_kubeconfig(cluster, auth_info, namespace.clone()),
            source,
            server,
            namespace,
        })
    }

    fn check_pem_fields(&self) -> Result<(), ConnectionError> {
        let fields = [
            ("cluster_ca_certificate", &self.cluster_ca_certificate),
            ("client_certificate", &self.client_certificate),
            ("client_key", &self.client_key),
        ];
        for (field, value) in fields {
            if let Some(value) = value
                && !value.contains("-----BEGIN ")
            {
                return Err(ConnectionError::NotPem { field });
            }
        }
        Ok(())
    }

    fn explicit_paths(&self) -> Vec<PathBuf> {
        self.config_path
            .iter()
            .chain(self.config_paths.iter())
            .filter(|path| !path.trim().is_empty())
            .map(PathBuf::from)
            .collect()
    }

    fn base_kubeconfig(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        in_cluster_dir: &Path,
    ) -> Result<(Option<Kubeconfig>, ConnectionSource), ConnectionError> {
        let home = env("HOME").filter(|home| !home.is_empty());
        let paths: Vec<PathBuf> = self
            .explicit_paths()
            .into_iter()
            .map(|path| expand_home(&path, home.as_deref()))
            .collect();
        if !paths.is_empty() {
            for path in &paths {
                if !path.exists() {
                    return Err(ConnectionError::ConfigFileMissing {
                        path: path.clone(),
                        origin: "config_path(s)",
                    });
                }
            }
            return Ok((
                Some(read_merged(&paths)?),
                ConnectionSource::ConfigFiles(paths),
            ));
        }
        if self.host.is_some() {
            return Ok((None, ConnectionSource::Explicit));
        }
        if let Some(list) = env("KUBECONFIG").filter(|list| !list.trim().is_empty()) {
            let listed: Vec<PathBuf> = std::env::split_paths(&list)
                .filter(|path| !path.as_os_str().is_empty())
                .collect();
            let existing: Vec<PathBuf> = listed
                .iter()
                .filter(|path| path.exists())
                .cloned()
                .collect();
            if existing.is_empty() {
                return Err(ConnectionError::KubeconfigEnvFilesMissing { paths: listed });
            }
            return Ok((
                Some(read_merged(&existing)?),
                ConnectionSource::KubeconfigEnv(existing),
            ));
        }
        let home_config = home
            .as_deref()
            .map(|home| Path::new(home).join(".kube").join("config"));
        if let Some(path) = &home_config
            && path.exists()
        {
            return Ok((
                Some(read_merged(std::slice::from_ref(path))?),
                ConnectionSource::HomeKubeconfig(path.clone()),
            ));
        }
        if let Some(in_cluster) = in_cluster_kubeconfig(env, in_cluster_dir) {
            return Ok((Some(in_cluster), ConnectionSource::InCluster));
        }
        Err(ConnectionError::NothingConfigured {
            home_config: home_config
                .map_or_else(|| "~/.kube/config".to_string(), |p| p.display().to_string()),
        })
    }

    fn select_entries(
        &self,
        base: Option<&Kubeconfig>,
    ) -> Result<(Cluster, AuthInfo, Option<String>), ConnectionError> {
        let Some(base) = base else {
            return Ok((Cluster::default(), AuthInfo::default(), None));
        };
        let context_name = self
            .config_context
            .clone()
            .or_else(|| base.current_context.clone())
            .filter(|n| !n.is_empty());
        let context: Option<Context> = match &context_name {
            Some(name) => Some(
                base.contexts
                    .iter()
                    .find(|named| &named.name == name)
                    .map(|named| named.context.clone().unwrap_or_default())
                    .ok_or_else(|| ConnectionError::ContextNotFound {
                        name: name.clone(),
                        available: base
                            .contexts
                            .iter()
                            .map(|named| named.name.clone())
                            .collect(),
                    })?,
            ),
            None => None,
        };
        let cluster_name = self
            .config_context_cluster
            .clone()
            .or_else(|| context.as_ref().map(|c| c.cluster.clone()));
        let user_name = self
            .config_context_auth_info
            .clone()
            .or_else(|| context.as_ref().and_then(|c| c.user.clone()));
        if cluster_name.is_none() && self.host.is_none() {
            return Err(ConnectionError::NoCurrentContext {
                available: base
                    .contexts
                    .iter()
                    .map(|named| named.name.clone())
                    .collect(),
            });
        }
        let cluster = match cluster_name.filter(|name| !name.is_empty()) {
            Some(name) => base
                .clusters
                .iter()
                .find(|named| named.name == name)
                .map(|named| named.cluster.clone().unwrap_or_default())
                .ok_or_else(|| ConnectionError::ClusterNotFound {
                    name: name.clone(),
                    available: base
                        .clusters
                        .iter()
                        .map(|named| named.name.clone())
                        .collect(),
                })?,
            None => Cluster::default(),
        };
        let auth_info = match user_name.filter(|name| !name.is_empty()) {
            Some(name) => base
                .auth_infos
                .iter()
                .find(|named| named.name == name)
                .map(|named| named.auth_info.clone().unwrap_or_default())
                .ok_or_else(|| ConnectionError::AuthInfoNotFound {
                    name: name.clone(),
                    available: base
                        .auth_infos
                        .iter()
                        .map(|named| named.name.clone())
                        .collect(),
                })?,
            None => AuthInfo::default(),
        };
        Ok((cluster, auth_info, context.and_then(|c| c.namespace)))
    }

    fn apply_cluster_overrides(&self, cluster: &mut Cluster) {
        if let Some(host) = &self.host {
            cluster.server = Some(host.clone());
        }
        if let Some(ca) = &self.cluster_ca_certificate {
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = Some(STANDARD.encode(ca.as_bytes()));
        }
        if let Some(insecure) = self.insecure {
            cluster.insecure_skip_tls_verify = Some(insecure);
        }
        if let Some(name) = &self.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
        if let Some(proxy) = &self.proxy_url {
            cluster.proxy_url = Some(proxy.clone());
        }
    }

    fn apply_auth_overrides(&self, auth: &mut AuthInfo) -> Result<(), ConnectionError> {
        if let Some(token) = &self.token {
            auth.token = Some(SecretString::from(token.clone()));
            auth.token_file = None;
        }
        if let Some(cert) = &self.client_certificate {
            auth.client_certificate = None;
            auth.client_certificate_data = Some(STANDARD.encode(cert.as_bytes()));
        }
        if let Some(key) = &self.client_key {
            auth.client_key = None;
            auth.client_key_data = Some(SecretString::from(STANDARD.encode(key.as_bytes())));
        }
        if let Some(exec) = &self.exec {
            auth.exec = Some(exec_config(exec)?);
        }
        Ok(())
    }
}

fn exec_config(exec: &ExecCredential) -> Result<ExecConfig, ConnectionError> {
    if exec.command.trim().is_empty() {
        return Err(ConnectionError::ExecWithoutCommand);
    }
    let api_version = if exec.api_version.trim().is_empty() {
        DEFAULT_EXEC_API_VERSION.to_string()
    } else {
        exec.api_version.clone()
    };
    let env = exec
        .env
        .iter()
        .map(|(name, value)| {
            [
                ("name".to_string(), name.clone()),
                ("value".to_string(), value.clone()),
            ]
            .into_iter()
            .collect()
        })
        .collect::<Vec<_>>();
    Ok(ExecConfig {
        api_version: Some(api_version),
        command: Some(exec.command.clone()),
        args: (!exec.args.is_empty()).then(|| exec.args.clone()),
        env: (!env.is_empty()).then_some(env),
        // client-go requires it for v1 plugins; Terraform has no terminal to offer.
        interactive_mode: Some(ExecInteractiveMode::Never),
        ..Default::default()
    })
}

fn expand_home(path: &Path, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => Path::new(home).join(rest),
        _ => path.to_path_buf(),
    }
}

fn read_merged(paths: &[PathBuf]) -> Result<Kubeconfig, ConnectionError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let config =
            Kubeconfig::read_from(path).map_err(|error| kubeconfig_read_error(path, error))?;
        merged = Some(match merged {
            None => config,
            Some(previous) => {
                previous
                    .merge(config)
                    .map_err(|error| ConnectionError::ConfigMerge {
                        reason: error.to_string(),
                    })?
            }
        });
    }
    Ok(merged.unwrap_or_default())
}

fn kubeconfig_read_error(path: &Path, error: kube::config::KubeconfigError) -> ConnectionError {
    match error {
        kube::config::KubeconfigError::Parse(parse) => {
            // The parser's own message may quote the offending text (a token, a key): report
            // only where the problem is.
            let location = parse
                .location()
                .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                .unwrap_or_default();
            ConnectionError::ConfigFileInvalid {
                path: path.to_path_buf(),
                location,
            }
        }
        kube::config::KubeconfigError::ReadConfig(io, _) => ConnectionError::ConfigFileUnreadable {
            path: path.to_path_buf(),
            reason: io.to_string(),
        },
        other => ConnectionError::ConfigFileUnreadable {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

fn in_cluster_kubeconfig(env: &impl Fn(&str) -> Option<String>, dir: &Path) -> Option<Kubeconfig> {
    let host = env("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty())?;
    let port = env("KUBERNETES_SERVICE_PORT")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "443".to_string());
    let token_file = dir.join("token");
    if !token_file.exists() {
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let ca = dir.join("ca.crt");
    let cluster = Cluster {
        server: Some(format!("https://{host}:{port}")),
        certificate_authority: ca.exists().then(|| ca.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let auth_info = AuthInfo {
        token_file: Some(token_file.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|ns| ns.trim().to_string());
    Some(single_context_kubeconfig(cluster, auth_info, namespace))
}

fn read_referenced(what: &'static str, path: &str) -> Result<String, ConnectionError> {
    std::fs::read(path)
        .map(|bytes| STANDARD.encode(bytes))
        .map_err(|error| ConnectionError::ReadReferencedFile {
            what,
            path: PathBuf::from(path),
            reason: error.to_string(),
        })
}

fn inline_cluster_files(cluster: &mut Cluster) -> Result<(), ConnectionError> {
    if let Some(path) = cluster.certificate_authority.take()
        && cluster.certificate_authority_data.is_none()
    {
        cluster.certificate_authority_data = Some(read_referenced("certificate-authority", &path)?);
    }
    Ok(())
}

fn inline_auth_files(auth: &mut AuthInfo) -> Result<(), ConnectionError> {
    if let Some(path) = auth.client_certificate.take()
        && auth.client_certificate_data.is_none()
    {
        auth.client_certificate_data = Some(read_referenced("client-certificate", &path)?);
    }
    if let Some(path) = auth.client_key.take()
        && auth.client_key_data.is_none()
    {
        auth.client_key_data = Some(SecretString::from(read_referenced("client-key", &path)?));
    }
    Ok(())
}

fn check_client_certificate_pair(auth: &AuthInfo) -> Result<(), ConnectionError> {
    match (
        auth.client_certificate_data.is_some(),
        auth.client_key_data.is_some(),
    ) {
        (true, false) => Err(ConnectionError::IncompleteClientCertificate {
            what: "client_certificate",
            missing: "client_key",
        }),
        (false, true) => Err(ConnectionError::IncompleteClientCertificate {
            what: "client_key",
            missing: "client_certificate",
        }),
        _ => Ok(()),
    }
}

fn normalize_server(server: Option<&str>) -> Result<String, ConnectionError> {
    let raw = server
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConnectionError::MissingServer {
            cluster: EFFECTIVE_NAME.to_string(),
        })?;
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(
            |error: http::uri::InvalidUri| ConnectionError::InvalidHost {
                host: raw.to_string(),
                reason: error.to_string(),
            },
        )?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(with_scheme),
        _ => Err(ConnectionError::InvalidHost {
            host: raw.to_string(),
            reason: "expected https://HOST[:PORT] (or http://)".to_string(),
        }),
    }
}

fn validate_proxy_url(proxy: &str) -> Result<(), ConnectionError> {
    let invalid = |reason: String| ConnectionError::InvalidProxyUrl {
        url: redact::url_userinfo(proxy),
        reason,
    };
    let uri: http::Uri = proxy
        .parse()
        .map_err(|_| invalid("not a URL".to_string()))?;
    match uri.scheme_str() {
        Some("http" | "socks5") => Ok(()),
        other => Err(invalid(format!(
            "scheme {other:?} is not supported; use http:// or socks5://"
        ))),
    }
}

fn single_context_kubeconfig(
    cluster: Cluster,
    auth_info: AuthInfo,
    namespace: Option<String>,
) -> Kubeconfig {
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: EFFECTIVE_NAME.into(),
            cluster: Some(cluster),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: EFFECTIVE_NAME.into(),
            auth_info: Some(auth_info),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: EFFECTIVE_NAME.into(),
            context: Some(Context {
                cluster: EFFECTIVE_NAME.into(),
                user: Some(EFFECTIVE_NAME.into()),
                namespace,
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(EFFECTIVE_NAME.into()),
        kind: Some("Config".into()),
        api_version: Some("v1".into()),
        ..Default::default()
    }
}
