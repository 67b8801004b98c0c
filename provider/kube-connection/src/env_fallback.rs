//! `KUBE_*` environment variables as fallbacks for unset connection fields, the same names the
//! hashicorp `kubernetes` and `helm` providers read.

use crate::KubernetesConnection;

impl KubernetesConnection {
    /// Fills every unset field from its `KUBE_*` variable, looked up through `env` (pass
    /// `&|name| std::env::var(name).ok()` for the process environment). Fields set in HCL win.
    ///
    /// | field | variable |
    /// |---|---|
    /// | `host` | `KUBE_HOST` |
    /// | `token` | `KUBE_TOKEN` |
    /// | `client_certificate` | `KUBE_CLIENT_CERT_DATA` |
    /// | `client_key` | `KUBE_CLIENT_KEY_DATA` |
    /// | `cluster_ca_certificate` | `KUBE_CLUSTER_CA_CERT_DATA` |
    /// | `insecure` | `KUBE_INSECURE` (`true`/`false`, `1`/`0`) |
    /// | `tls_server_name` | `KUBE_TLS_SERVER_NAME` |
    /// | `proxy_url` | `KUBE_PROXY_URL` |
    /// | `config_path` | `KUBE_CONFIG_PATH` |
    /// | `config_paths` | `KUBE_CONFIG_PATHS` (separated like `PATH`) |
    /// | `config_context` | `KUBE_CTX` |
    /// | `config_context_auth_info` | `KUBE_CTX_AUTH_INFO` |
    /// | `config_context_cluster` | `KUBE_CTX_CLUSTER` |
    ///
    /// Empty variables count as unset. A `KUBE_INSECURE` that is not a boolean is left unset and
    /// logged as a warning.
    #[must_use]
    pub fn with_env_fallback(mut self, env: &impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        fill(&mut self.host, || var("KUBE_HOST"));
        fill(&mut self.token, || var("KUBE_TOKEN"));
        fill(&mut self.client_certificate, || {
            var("KUBE_CLIENT_CERT_DATA")
        });
        fill(&mut self.client_key, || var("KUBE_CLIENT_KEY_DATA"));
        fill(&mut self.cluster_ca_certificate, || {
            var("KUBE_CLUSTER_CA_CERT_DATA")
        });
        fill(&mut self.insecure, || {
            var("KUBE_INSECURE").and_then(|v| parse_bool("KUBE_INSECURE", &v))
        });
        fill(&mut self.tls_server_name, || var("KUBE_TLS_SERVER_NAME"));
        fill(&mut self.proxy_url, || var("KUBE_PROXY_URL"));
        fill(&mut self.config_path, || var("KUBE_CONFIG_PATH"));
        if self.config_paths.is_empty()
            && let Some(list) = var("KUBE_CONFIG_PATHS")
        {
            self.config_paths = std::env::split_paths(&list)
                .filter(|path| !path.as_os_str().is_empty())
                .map(|path| path.to_string_lossy().into_owned())
                .collect();
        }
        fill(&mut self.config_context, || var("KUBE_CTX"));
        fill(&mut self.config_context_auth_info, || {
            var("KUBE_CTX_AUTH_INFO")
        });
        fill(&mut self.config_context_cluster, || var("KUBE_CTX_CLUSTER"));
        self
    }

    /// [`with_env_fallback`](Self::with_env_fallback) over the process environment.
    #[must_use]
    pub fn with_process_env_fallback(self) -> Self {
        self.with_env_fallback(&|name| std::env::var(name).ok())
    }
}

fn fill<T>(field: &mut Option<T>, fallback: impl FnOnce() -> Option<T>) {
    if field.is_none() {
        *field = fallback();
    }
}

fn parse_bool(name: &str, value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" => Some(true),
        "0" | "f" | "false" | "no" => Some(false),
        other => {
            tracing::warn!(
                variable = name,
                value = other,
                "ignoring a value that is not a boolean"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn every_kube_variable_fills_its_unset_field() {
        let env = env_of(&[
            ("KUBE_HOST", "https://env:6443"),
            ("KUBE_TOKEN", "envtoken"),
            ("KUBE_CLIENT_CERT_DATA", "CERT"),
            ("KUBE_CLIENT_KEY_DATA", "KEY"),
            ("KUBE_CLUSTER_CA_CERT_DATA", "CA"),
            ("KUBE_INSECURE", "true"),
            ("KUBE_TLS_SERVER_NAME", "api.internal"),
            ("KUBE_PROXY_URL", "http://proxy:3128"),
            ("KUBE_CONFIG_PATH", "/a/config"),
            ("KUBE_CONFIG_PATHS", "/b/one:/b/two"),
            ("KUBE_CTX", "ctx"),
            ("KUBE_CTX_AUTH_INFO", "user"),
            ("KUBE_CTX_CLUSTER", "cluster"),
        ]);
        let filled = KubernetesConnection::default().with_env_fallback(&env);
        assert_eq!(
            filled,
            KubernetesConnection {
                host: Some("https://env:6443".into()),
                token: Some("envtoken".into()),
                client_certificate: Some("CERT".into()),
                client_key: Some("KEY".into()),
                cluster_ca_certificate: Some("CA".into()),
                insecure: Some(true),
                tls_server_name: Some("api.internal".into()),
                proxy_url: Some("http://proxy:3128".into()),
                config_path: Some("/a/config".into()),
                config_paths: vec!["/b/one".into(), "/b/two".into()],
                config_context: Some("ctx".into()),
                config_context_auth_info: Some("user".into()),
                config_context_cluster: Some("cluster".into()),
                exec: None,
            }
        );
    }

    #[test]
    fn explicit_fields_win_over_environment() {
        let env = env_of(&[
            ("KUBE_HOST", "https://env:6443"),
            ("KUBE_INSECURE", "true"),
            ("KUBE_CONFIG_PATHS", "/b/one"),
        ]);
        let explicit = KubernetesConnection {
            host: Some("https://hcl:6443".into()),
            insecure: Some(false),
            config_paths: vec!["/hcl".into()],
            ..Default::default()
        };
        let filled = explicit.clone().with_env_fallback(&env);
        assert_eq!(filled, explicit);
    }

    #[test]
    fn empty_and_malformed_variables_count_as_unset() {
        let env = env_of(&[
            ("KUBE_HOST", ""),
            ("KUBE_INSECURE", "maybe"),
            ("KUBE_CONFIG_PATHS", "::"),
        ]);
        let filled = KubernetesConnection::default().with_env_fallback(&env);
        assert_eq!(filled, KubernetesConnection::default());
    }

    #[test]
    fn insecure_accepts_the_usual_boolean_spellings() {
        for (text, expected) in [("1", true), ("TRUE", true), ("0", false), ("false", false)] {
            let pairs = [("KUBE_INSECURE", text)];
            let env = env_of(&pairs);
            let filled = KubernetesConnection::default().with_env_fallback(&env);
            assert_eq!(filled.insecure, Some(expected), "{text}");
        }
    }
}
