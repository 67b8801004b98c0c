//! Kubernetes connection settings, spelled the way users of the hashicorp `kubernetes` and `helm`
//! providers already write them, resolved into one effective kubeconfig.
//!
//! The flow is:
//!
//! 1. the provider fills a [`KubernetesConnection`] from the user's `kubernetes { … }` block;
//! 2. [`KubernetesConnection::with_env_fallback`] fills unset fields from the `KUBE_*` variables;
//! 3. [`KubernetesConnection::resolve`] turns it into a [`ResolvedConnection`]: a single-context
//!    kubeconfig with everything inline, plus a note of where it came from;
//! 4. [`ResolvedConnection::client`] builds a [`kube::Client`], and
//!    [`ResolvedConnection::write_private_kubeconfig`] writes the same connection to a 0600 file
//!    for the helm CLI.
//!
//! **Unlike the hashicorp providers**, when neither a host nor a config path is set (in HCL or in
//! `KUBE_*`), the connection falls back to `KUBECONFIG`, then `~/.kube/config`, then the in-cluster
//! service account — the way `kubectl` and `helm` behave.

mod env_fallback;
mod error;
mod helm_kubeconfig;
mod redact;
mod resolve;
#[cfg(test)]
mod resolve_tests;

use std::collections::BTreeMap;
use std::fmt;

pub use error::ConnectionError;
pub use helm_kubeconfig::create_private;
pub use resolve::{ConnectionSource, ResolvedConnection};

/// The provider's `kubernetes { … }` block as the user wrote it. `None` / empty means "not set";
/// unset fields fall back to the `KUBE_*` environment variables, then to `KUBECONFIG` /
/// `~/.kube/config`.
///
/// `Debug` never prints the token, the client key or exec environment values.
#[derive(Clone, Default, PartialEq, Eq)]
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
///
/// `Debug` prints environment variable names only, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExecCredential {
    pub api_version: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for KubernetesConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesConnection")
            .field("host", &self.host)
            .field("token", &redact::presence(&self.token))
            .field(
                "client_certificate",
                &redact::presence(&self.client_certificate),
            )
            .field("client_key", &redact::presence(&self.client_key))
            .field(
                "cluster_ca_certificate",
                &redact::presence(&self.cluster_ca_certificate),
            )
            .field("insecure", &self.insecure)
            .field("tls_server_name", &self.tls_server_name)
            .field(
                "proxy_url",
                &self.proxy_url.as_deref().map(redact::url_userinfo),
            )
            .field("config_path", &self.config_path)
            .field("config_paths", &self.config_paths)
            .field("config_context", &self.config_context)
            .field("config_context_auth_info", &self.config_context_auth_info)
            .field("config_context_cluster", &self.config_context_cluster)
            .field("exec", &self.exec)
            .finish()
    }
}

impl fmt::Debug for ExecCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecCredential")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_output_hides_token_key_and_exec_env_values() {
        let connection = KubernetesConnection {
            host: Some("https://k8s.example:6443".into()),
            token: Some("tok-very-secret".into()),
            client_key: Some("-----BEGIN PRIVATE KEY-----\nkeymaterial\n".into()),
            proxy_url: Some("http://user:proxypass@proxy:3128".into()),
            exec: Some(ExecCredential {
                api_version: "client.authentication.k8s.io/v1".into(),
                command: "aws".into(),
                args: vec!["eks".into()],
                env: BTreeMap::from([("AWS_SECRET".to_string(), "envsecret".to_string())]),
            }),
            ..Default::default()
        };
        let printed = format!("{connection:?}");
        for secret in ["tok-very-secret", "keymaterial", "proxypass", "envsecret"] {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
        assert!(printed.contains("https://k8s.example:6443"));
        assert!(printed.contains("AWS_SECRET"));
    }
}
