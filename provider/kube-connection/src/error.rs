//! Errors of connection resolution. Messages name files, contexts and hosts — never tokens,
//! keys, certificate data or YAML snippets (a parse error reports only the line and column).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    #[error(
        "no Kubernetes connection is configured: set `host` or `config_path` in the provider's \
         kubernetes block (or KUBE_HOST / KUBE_CONFIG_PATH), set KUBECONFIG, or create {home_config}"
    )]
    NothingConfigured { home_config: String },

    #[error("kubeconfig file {path} does not exist (from {origin})")]
    ConfigFileMissing { path: PathBuf, origin: &'static str },

    #[error("none of the files listed in KUBECONFIG exist: {paths:?}")]
    KubeconfigEnvFilesMissing { paths: Vec<PathBuf> },

    #[error("cannot read kubeconfig {path}: {reason}")]
    ConfigFileUnreadable { path: PathBuf, reason: String },

    #[error("kubeconfig {path} is not valid YAML for a kubeconfig{location}")]
    ConfigFileInvalid { path: PathBuf, location: String },

    #[error("cannot merge the kubeconfig files: {reason}")]
    ConfigMerge { reason: String },

    #[error("context {name:?} is not in the kubeconfig; available contexts: {available:?}")]
    ContextNotFound {
        name: String,
        available: Vec<String>,
    },

    #[error(
        "the kubeconfig has no current-context; set `config_context` (KUBE_CTX) to one of {available:?}"
    )]
    NoCurrentContext { available: Vec<String> },

    #[error("cluster {name:?} is not in the kubeconfig; available clusters: {available:?}")]
    ClusterNotFound {
        name: String,
        available: Vec<String>,
    },

    #[error("user {name:?} is not in the kubeconfig; available users: {available:?}")]
    AuthInfoNotFound {
        name: String,
        available: Vec<String>,
    },

    #[error(
        "no API server address: the selected cluster {cluster:?} has no `server` and `host` is not set"
    )]
    MissingServer { cluster: String },

    #[error("invalid API server address {host:?}: {reason}")]
    InvalidHost { host: String, reason: String },

    #[error("invalid proxy_url {url}: {reason}")]
    InvalidProxyUrl { url: String, reason: String },

    #[error("cannot read the {what} file {path}: {reason}")]
    ReadReferencedFile {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },

    #[error("{what} is set without {missing}: client certificate authentication needs both")]
    IncompleteClientCertificate {
        what: &'static str,
        missing: &'static str,
    },

    #[error("{field} is not PEM (expected a \"-----BEGIN ...\" block); its content is not shown")]
    NotPem { field: &'static str },

    #[error("exec credential plugin needs a `command`")]
    ExecWithoutCommand,

    #[error("cannot build the Kubernetes client configuration: {reason}")]
    KubeConfig { reason: String },

    #[error("cannot build the Kubernetes client: {reason}")]
    Client { reason: String },

    #[error("cannot write the private kubeconfig in {dir}: {reason}")]
    WriteKubeconfig { dir: PathBuf, reason: String },
}
