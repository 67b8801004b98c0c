//! Precedence and resolution tests. Every test builds its own HOME and kubeconfig files in a
//! temp dir and passes an explicit environment: the real `~/.kube` and process env are never read.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret as _;
use tempfile::TempDir;

use crate::{
    ConnectionError, ConnectionSource, ExecCredential, KubernetesConnection, ResolvedConnection,
};

struct Sandbox {
    dir: TempDir,
    vars: HashMap<String, String>,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let vars = HashMap::from([("HOME".to_string(), home.to_string_lossy().into_owned())]);
        Self { dir, vars }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.into(), value.into());
    }

    fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| self.vars.get(name).cloned()
    }

    fn write(&self, relative: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    fn home_kubeconfig(&self, server: &str) -> PathBuf {
        self.write(
            "home/.kube/config",
            &kubeconfig_yaml("home", server, "home-token"),
        )
    }

    fn resolve(
        &self,
        connection: &KubernetesConnection,
    ) -> Result<ResolvedConnection, ConnectionError> {
        let env = self.env();
        let in_cluster = self.dir.path().join("serviceaccount");
        connection
            .clone()
            .with_env_fallback(&env)
            .resolve_with(&env, &in_cluster)
    }
}

fn kubeconfig_yaml(name: &str, server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {name}\n\
         clusters:\n- name: {name}\n  cluster:\n    server: {server}\n\
         users:\n- name: {name}\n  user:\n    token: {token}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: ns-{name}\n"
    )
}

fn token_of(resolved: &ResolvedConnection) -> Option<String> {
    auth(resolved)
        .token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
}

fn auth(resolved: &ResolvedConnection) -> &kube::config::AuthInfo {
    resolved.kubeconfig().auth_infos[0]
        .auth_info
        .as_ref()
        .unwrap()
}

fn cluster(resolved: &ResolvedConnection) -> &kube::config::Cluster {
    resolved.kubeconfig().clusters[0].cluster.as_ref().unwrap()
}

#[test]
fn nothing_configured_is_a_clear_error_naming_the_home_kubeconfig() {
    let sandbox = Sandbox::new();
    let error = sandbox
        .resolve(&KubernetesConnection::default())
        .unwrap_err();
    assert!(
        matches!(error, ConnectionError::NothingConfigured { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&sandbox.home().join(".kube/config").display().to_string()),
        "{message}"
    );
}

#[test]
fn home_kubeconfig_is_the_last_file_fallback() {
    let sandbox = Sandbox::new();
    let path = sandbox.home_kubeconfig("https://home.example:6443");
    let resolved = sandbox.resolve(&KubernetesConnection::default()).unwrap();
    assert_eq!(resolved.server(), "https://home.example:6443");
    assert_eq!(resolved.source(), &ConnectionSource::HomeKubeconfig(path));
    assert_eq!(token_of(&resolved).as_deref(), Some("home-token"));
    assert_eq!(resolved.default_namespace(), Some("ns-home"));
}

#[test]
fn kubeconfig_variable_wins_over_home_kubeconfig_and_merges_first_file_first() {
    let mut sandbox = Sandbox::new();
    sandbox.home_kubeconfig("https://home.example:6443");
    let first = sandbox.write(
        "a/config",
        &kubeconfig_yaml("alpha", "https://alpha:6443", "alpha-token"),
    );
    let second = sandbox.write(
        "b/config",
        &kubeconfig_yaml("beta", "https://beta:6443", "beta-token"),
    );
    let missing = sandbox.dir.path().join("missing");
    let list = std::env::join_paths([&missing, &first, &second]).unwrap();
    sandbox.set("KUBECONFIG", list.to_str().unwrap());

    let resolved = sandbox.resolve(&KubernetesConnection::default()).unwrap();
    assert_eq!(resolved.server(), "https://alpha:6443");
    assert_eq!(
        resolved.source(),
        &ConnectionSource::KubeconfigEnv(vec![first, second])
    );

    // The second file's context is reachable by name after the merge.
    let resolved = sandbox
        .resolve(&KubernetesConnection {
            config_context: Some("beta".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(resolved.server(), "https://beta:6443");
    assert_eq!(token_of(&resolved).as_deref(), Some("beta-token"));
}

#[test]
fn kubeconfig_variable_listing_only_missing_files_is_an_error() {
    let mut sandbox = Sandbox::new();
    sandbox.home_kubeconfig("https://home.example:6443");
    sandbox.set("KUBECONFIG", "/nonexistent/one");
    let error = sandbox
        .resolve(&KubernetesConnection::default())
        .unwrap_err();
    assert!(
        matches!(error, ConnectionError::KubeconfigEnvFilesMissing { .. }),
        "{error:?}"
    );
}

#[test]
fn kube_environment_wins_over_kubeconfig_variable() {
    let mut sandbox = Sandbox::new();
    let kubeconfig = sandbox.write(
        "a/config",
        &kubeconfig_yaml("alpha", "https://alpha:6443", "alpha-token"),
    );
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    sandbox.set("KUBE_HOST", "https://kube-env:6443");
    sandbox.set("KUBE_TOKEN", "kube-env-token");

    let resolved = sandbox.resolve(&KubernetesConnection::default()).unwrap();
    assert_eq!(resolved.server(), "https://kube-env:6443");
    assert_eq!(resolved.source(), &ConnectionSource::Explicit);
    assert_eq!(token_of(&resolved).as_deref(), Some("kube-env-token"));
}

#[test]
fn kube_config_path_variable_wins_over_kubeconfig_variable() {
    let mut sandbox = Sandbox::new();
    let from_kubeconfig = sandbox.write(
        "a/config",
        &kubeconfig_yaml("alpha", "https://alpha:6443", "t"),
    );
    let from_kube_env = sandbox.write(
        "b/config",
        &kubeconfig_yaml("beta", "https://beta:6443", "t"),
    );
    sandbox.set("KUBECONFIG", from_kubeconfig.to_str().unwrap());
    sandbox.set("KUBE_CONFIG_PATH", from_kube_env.to_str().unwrap());
    let resolved = sandbox.resolve(&KubernetesConnection::default()).unwrap();
    assert_eq!(resolved.server(), "https://beta:6443");
    assert_eq!(
        resolved.source(),
        &ConnectionSource::ConfigFiles(vec![from_kube_env])
    );
}

#[test]
fn explicit_settings_win_over_kube_environment() {
    let mut sandbox = Sandbox::new();
    sandbox.set("KUBE_HOST", "https://kube-env:6443");
    sandbox.set("KUBE_TOKEN", "kube-env-token");
    let explicit = KubernetesConnection {
        host: Some("https://hcl:6443".into()),
        token: Some("hcl-token".into()),
        ..Default::default()
    };
    let resolved = sandbox.resolve(&explicit).unwrap();
    assert_eq!(resolved.server(), "https://hcl:6443");
    assert_eq!(token_of(&resolved).as_deref(), Some("hcl-token"));
}

#[test]
fn explicit_host_reads_no_file_at_all() {
    let mut sandbox = Sandbox::new();
    sandbox.home_kubeconfig("https://home.example:6443");
    sandbox.set("KUBECONFIG", "/nonexistent/one");
    let resolved = sandbox
        .resolve(&KubernetesConnection {
            host: Some("hcl.example:6443".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        resolved.server(),
        "https://hcl.example:6443",
        "a host without scheme gets https://"
    );
    assert_eq!(
        token_of(&resolved),
        None,
        "the home kubeconfig's token must not leak in"
    );
}

#[test]
fn explicit_fields_override_the_selected_kubeconfig_entry_field_by_field() {
    let sandbox = Sandbox::new();
    let path = sandbox.write(
        "a/config",
        &kubeconfig_yaml("alpha", "https://alpha:6443", "alpha-token"),
    );
    let connection = KubernetesConnection {
        config_path: Some(path.to_string_lossy().into_owned()),
        token: Some("override-token".into()),
        tls_server_name: Some("api.internal".into()),
        proxy_url: Some("http://proxy.local:3128".into()),
        ..Default::default()
    };
    let resolved = sandbox.resolve(&connection).unwrap();
    assert_eq!(resolved.server(), "https://alpha:6443");
    assert_eq!(token_of(&resolved).as_deref(), Some("override-token"));
    assert_eq!(
        cluster(&resolved).tls_server_name.as_deref(),
        Some("api.internal")
    );
    assert_eq!(
        cluster(&resolved).proxy_url.as_deref(),
        Some("http://proxy.local:3128")
    );
}

const MULTI: &str = "apiVersion: v1\nkind: Config\ncurrent-context: one\n\
clusters:\n- name: c1\n  cluster:\n    server: https://c1:6443\n- name: c2\n  cluster:\n    server: https://c2:6443\n\
users:\n- name: u1\n  user:\n    token: t1\n- name: u2\n  user:\n    token: t2\n\
contexts:\n- name: one\n  context:\n    cluster: c1\n    user: u1\n- name: two\n  context:\n    cluster: c2\n    user: u2\n";

#[test]
fn context_cluster_and_user_overrides_select_entries() {
    let sandbox = Sandbox::new();
    let path = sandbox
        .write("multi/config", MULTI)
        .to_string_lossy()
        .into_owned();
    let base = KubernetesConnection {
        config_paths: vec![path],
        ..Default::default()
    };

    let current = sandbox.resolve(&base).unwrap();
    assert_eq!(
        (current.server(), token_of(&current).unwrap().as_str()),
        ("https://c1:6443", "t1")
    );

    let two = sandbox
        .resolve(&KubernetesConnection {
            config_context: Some("two".into()),
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        (two.server(), token_of(&two).unwrap().as_str()),
        ("https://c2:6443", "t2")
    );

    let mixed = sandbox
        .resolve(&KubernetesConnection {
            config_context_cluster: Some("c2".into()),
            config_context_auth_info: Some("u1".into()),
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        (mixed.server(), token_of(&mixed).unwrap().as_str()),
        ("https://c2:6443", "t1")
    );
}

#[test]
fn unknown_context_cluster_or_user_names_the_available_ones() {
    let sandbox = Sandbox::new();
    let path = sandbox
        .write("multi/config", MULTI)
        .to_string_lossy()
        .into_owned();
    let base = KubernetesConnection {
        config_path: Some(path),
        ..Default::default()
    };
    let cases = [
        (
            KubernetesConnection {
                config_context: Some("three".into()),
                ..base.clone()
            },
            "three",
            "one",
        ),
        (
            KubernetesConnection {
                config_context_cluster: Some("c9".into()),
                ..base.clone()
            },
            "c9",
            "c2",
        ),
        (
            KubernetesConnection {
                config_context_auth_info: Some("u9".into()),
                ..base.clone()
            },
            "u9",
            "u2",
        ),
    ];
    for (connection, missing, listed) in cases {
        let message = sandbox.resolve(&connection).unwrap_err().to_string();
        assert!(
            message.contains(missing) && message.contains(listed),
            "{message}"
        );
    }
}

#[test]
fn a_missing_config_path_is_an_error_not_a_fallback() {
    let sandbox = Sandbox::new();
    sandbox.home_kubeconfig("https://home.example:6443");
    let error = sandbox
        .resolve(&KubernetesConnection {
            config_path: Some("~/nope/config".into()),
            ..Default::default()
        })
        .unwrap_err();
    match error {
        ConnectionError::ConfigFileMissing { path, .. } => {
            assert_eq!(path, sandbox.home().join("nope/config"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invalid_yaml_reports_position_but_not_the_text() {
    let sandbox = Sandbox::new();
    let path = sandbox.write(
        "bad/config",
        "users:\n- name: x\n  user:\n    token: [sekrit-token-value\n",
    );
    let error = sandbox
        .resolve(&KubernetesConnection {
            config_path: Some(path.to_string_lossy().into_owned()),
            ..Default::default()
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ConnectionError::ConfigFileInvalid { .. }),
        "{message}"
    );
    assert!(!message.contains("sekrit"), "{message}");
}

#[test]
fn relative_certificate_files_are_read_relative_to_the_kubeconfig_and_inlined() {
    let sandbox = Sandbox::new();
    sandbox.write("k/ca.pem", "CA-PEM");
    sandbox.write("k/client.pem", "CERT-PEM");
    sandbox.write("k/client-key.pem", "KEY-PEM");
    let path = sandbox.write(
        "k/config",
        "current-context: c\nclusters:\n- name: c\n  cluster:\n    server: https://k:6443\n    certificate-authority: ca.pem\n\
         users:\n- name: c\n  user:\n    client-certificate: client.pem\n    client-key: client-key.pem\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: c\n",
    );
    let resolved = sandbox
        .resolve(&KubernetesConnection {
            config_path: Some(path.to_string_lossy().into_owned()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        cluster(&resolved).certificate_authority_data.as_deref(),
        Some(STANDARD.encode("CA-PEM").as_str())
    );
    assert_eq!(cluster(&resolved).certificate_authority, None);
    let auth = auth(&resolved);
    assert_eq!(
        auth.client_certificate_data.as_deref(),
        Some(STANDARD.encode("CERT-PEM").as_str())
    );
    assert_eq!(
        auth.client_key_data.as_ref().unwrap().expose_secret(),
        STANDARD.encode("KEY-PEM")
    );
}

#[test]
fn insecure_drops_the_ca_because_helm_refuses_both() {
    let sandbox = Sandbox::new();
    let resolved = sandbox
        .resolve(&KubernetesConnection {
            host: Some("https://h:6443".into()),
            cluster_ca_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
            ),
            insecure: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(cluster(&resolved).insecure_skip_tls_verify, Some(true));
    assert_eq!(cluster(&resolved).certificate_authority_data, None);
}

#[test]
fn half_a_client_certificate_pair_is_an_error() {
    let sandbox = Sandbox::new();
    let error = sandbox
        .resolve(&KubernetesConnection {
            host: Some("https://h:6443".into()),
            client_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
            ),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(
        error,
        ConnectionError::IncompleteClientCertificate {
            missing: "client_key",
            ..
        }
    ));
}

#[test]
fn bad_host_and_proxy_are_reported_without_credentials() {
    let sandbox = Sandbox::new();
    let error = sandbox
        .resolve(&KubernetesConnection {
            host: Some("ftp://h".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(error, ConnectionError::InvalidHost { .. }),
        "{error:?}"
    );
    let error = sandbox
        .resolve(&KubernetesConnection {
            host: Some("https://h".into()),
            proxy_url: Some("https://user:pw-secret@proxy:3128".into()),
            ..Default::default()
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ConnectionError::InvalidProxyUrl { .. }),
        "{message}"
    );
    assert!(!message.contains("pw-secret"), "{message}");
}

#[test]
fn exec_plugin_becomes_a_kubeconfig_exec_entry() {
    let sandbox = Sandbox::new();
    let resolved = sandbox
        .resolve(&KubernetesConnection {
            host: Some("https://h:6443".into()),
            exec: Some(ExecCredential {
                api_version: "client.authentication.k8s.io/v1".into(),
                command: "aws".into(),
                args: vec!["eks".into(), "get-token".into()],
                env: [("AWS_PROFILE".to_string(), "dev".to_string())].into(),
            }),
            ..Default::default()
        })
        .unwrap();
    let exec = auth(&resolved).exec.as_ref().unwrap();
    assert_eq!(
        exec.api_version.as_deref(),
        Some("client.authentication.k8s.io/v1")
    );
    assert_eq!(exec.command.as_deref(), Some("aws"));
    assert_eq!(
        exec.args.as_deref(),
        Some(&["eks".to_string(), "get-token".to_string()][..])
    );
    let env = exec.env.as_ref().unwrap();
    assert_eq!(env[0].get("name").map(String::as_str), Some("AWS_PROFILE"));
    assert_eq!(env[0].get("value").map(String::as_str), Some("dev"));
    assert_eq!(
        exec.interactive_mode,
        Some(kube::config::ExecInteractiveMode::Never)
    );
}

#[test]
fn in_cluster_service_account_is_the_very_last_fallback() {
    let mut sandbox = Sandbox::new();
    sandbox.write("serviceaccount/token", "sa-token");
    sandbox.write("serviceaccount/ca.crt", "SA-CA");
    sandbox.write("serviceaccount/namespace", "runners\n");
    sandbox.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    sandbox.set("KUBERNETES_SERVICE_PORT", "443");
    let resolved = sandbox.resolve(&KubernetesConnection::default()).unwrap();
    assert_eq!(resolved.source(), &ConnectionSource::InCluster);
    assert_eq!(resolved.server(), "https://10.0.0.1:443");
    assert_eq!(resolved.default_namespace(), Some("runners"));
    assert_eq!(
        cluster(&resolved).certificate_authority_data.as_deref(),
        Some(STANDARD.encode("SA-CA").as_str())
    );
    assert!(
        auth(&resolved)
            .token_file
            .as_deref()
            .unwrap()
            .ends_with("serviceaccount/token")
    );

    // A home kubeconfig still wins over the service account.
    sandbox.home_kubeconfig("https://home.example:6443");
    assert_eq!(
        sandbox
            .resolve(&KubernetesConnection::default())
            .unwrap()
            .server(),
        "https://home.example:6443"
    );
}
