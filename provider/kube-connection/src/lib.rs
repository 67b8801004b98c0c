//! Kubernetes connection settings, spelled the way users of the hashicorp `kubernetes` and `helm`
//! providers already write them.
//!
//! (work in progress: the data model below is the contract with the provider crate)

use std::collections::BTreeMap;

/// The provider's `kubernetes { … }` block as the user wrote it. `None` / empty means "not set";
/// unset fields fall back to the `KUBE_*` environment variables, then to `KUBECONFIG` /
/// `~/.kube/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesConnection {
    pub host: Option<String>,
    /// Bearer token. Secret: never log or print it.
    pub token: Option<String>,
    /// PEM.
    pub client_certificate: Option<String>,
    /// PEM. Secret: never log or print it.
    pub client_key: Option<String>,
    /// PEM.
    pub cluster_ca_certificate: Option<String>,
    pub insecure: Option<bool>,
    pub tls_server_name: Option<String>,
    pub proxy_url: Option<String>,
    pub config_path: Option<String>,
    pub config_paths: Vec<String>,
    pub config_context: Option<String>,
    pub config_context_auth_info: Option<String>,
    pub config_context_cluster: Option<String>,
    pub exec: Option<ExecCredential>,
}

/// `exec { api_version, command, args, env }`: a client-go credential plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecCredential {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}
