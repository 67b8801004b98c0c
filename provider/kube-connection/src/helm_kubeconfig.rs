//! The private kubeconfig handed to the helm CLI.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::ConnectionError;
use crate::resolve::ResolvedConnection;

const FILE_NAME: &str = "kubeconfig";

impl ResolvedConnection {
    /// Writes the effective kubeconfig (inline CA/certificate/key data, token, exec plugin,
    /// insecure, tls-server-name, proxy-url) to `dir/kubeconfig` with mode 0600 and returns its
    /// path. `dir` should be a private temporary directory owned by the caller (for example a
    /// [`tempfile::TempDir`]), which removes the file when dropped.
    ///
    /// helm is usually run with a private `HOME`; an exec credential plugin (`aws`, `gcloud`,
    /// `kubelogin`) still needs the real one to find its own configuration, so the current
    /// `HOME` is added to the plugin's `env` unless the plugin already sets it.
    pub fn write_private_kubeconfig(&self, dir: &Path) -> Result<PathBuf, ConnectionError> {
        let failed = |reason: String| ConnectionError::WriteKubeconfig {
            dir: dir.to_path_buf(),
            reason,
        };
        let kubeconfig = with_plugin_home(self.kubeconfig.clone(), std::env::var("HOME").ok());
        let yaml =
            serde_yaml_ng::to_string(&kubeconfig).map_err(|error| failed(error.to_string()))?;
        let path = dir.join(FILE_NAME);
        let mut file = create_private(&path).map_err(|error| failed(error.to_string()))?;
        file.write_all(yaml.as_bytes())
            .map_err(|error| failed(error.to_string()))?;
        file.sync_all().map_err(|error| failed(error.to_string()))?;
        Ok(path)
    }
}

fn with_plugin_home(
    mut kubeconfig: kube::config::Kubeconfig,
    home: Option<String>,
) -> kube::config::Kubeconfig {
    let Some(home) = home.filter(|home| !home.is_empty()) else {
        return kubeconfig;
    };
    for named in &mut kubeconfig.auth_infos {
        if let Some(exec) = named.auth_info.as_mut().and_then(|auth| auth.exec.as_mut()) {
            let env = exec.env.get_or_insert_with(Vec::new);
            if !env
                .iter()
                .any(|pair| pair.get("name").map(String::as_str) == Some("HOME"))
            {
                env.push(
                    [
                        ("name".to_string(), "HOME".to_string()),
                        ("value".to_string(), home.clone()),
                    ]
                    .into(),
                );
            }
        }
    }
    kubeconfig
}

/// Creates `path` for writing, readable and writable by the owner only (mode 0600 on Unix;
/// elsewhere the private directory it is created in is the protection). Fails when `path`
/// exists, so a planted file or link is never written through. The one copy of this helper:
/// helm-driver writes its values and CA files with it too.
#[cfg(unix)]
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Creates `path` for writing; fails when it exists (see the Unix variant).
#[cfg(not(unix))]
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use secrecy::ExposeSecret as _;

    use crate::{ExecCredential, KubernetesConnection};

    fn certificate_pair() -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(vec!["test-ca".to_string()]).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&client_key)
            .unwrap();
        (ca.pem(), client.pem(), client_key.serialize_pem())
    }

    fn full_connection() -> KubernetesConnection {
        let (ca, cert, key) = certificate_pair();
        KubernetesConnection {
            host: Some("https://127.0.0.1:6443".into()),
            token: Some("round-trip-token".into()),
            client_certificate: Some(cert),
            client_key: Some(key),
            cluster_ca_certificate: Some(ca),
            tls_server_name: Some("kubernetes.default".into()),
            proxy_url: Some("http://127.0.0.1:3128".into()),
            exec: Some(ExecCredential {
                api_version: "client.authentication.k8s.io/v1".into(),
                command: "/usr/local/bin/get-token".into(),
                args: vec!["--cluster".into(), "x".into()],
                env: BTreeMap::from([("REGION".to_string(), "eu".to_string())]),
            }),
            ..Default::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn written_kubeconfig_is_0600_and_resolves_to_the_same_connection() {
        let original = full_connection().resolve(&no_env).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = original.write_private_kubeconfig(dir.path()).unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        let reread = KubernetesConnection {
            config_path: Some(path.to_string_lossy().into_owned()),
            ..Default::default()
        }
        .resolve(&no_env)
        .unwrap();
        let as_json =
            |kubeconfig: &kube::config::Kubeconfig| serde_json::to_value(kubeconfig).unwrap();
        let expected =
            super::with_plugin_home(original.kubeconfig().clone(), std::env::var("HOME").ok());
        assert_eq!(as_json(reread.kubeconfig()), as_json(&expected));
        assert_eq!(reread.server(), "https://127.0.0.1:6443");

        let user = reread.kubeconfig().auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap();
        assert_eq!(
            user.token.as_ref().unwrap().expose_secret(),
            "round-trip-token"
        );
        let cluster = reread.kubeconfig().clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.proxy_url.as_deref(), Some("http://127.0.0.1:3128"));
        assert_eq!(
            cluster.tls_server_name.as_deref(),
            Some("kubernetes.default")
        );
        assert!(cluster.certificate_authority_data.is_some());
    }

    #[test]
    fn exec_plugins_keep_the_real_home_but_an_explicit_one_wins() {
        let resolved = full_connection().resolve(&no_env).unwrap();
        let with_home =
            super::with_plugin_home(resolved.kubeconfig().clone(), Some("/home/me".into()));
        let env = with_home.auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .env
            .clone()
            .unwrap();
        let home: Vec<&str> = env
            .iter()
            .filter(|pair| pair.get("name").map(String::as_str) == Some("HOME"))
            .filter_map(|pair| pair.get("value").map(String::as_str))
            .collect();
        assert_eq!(home, vec!["/home/me"]);
        let again = super::with_plugin_home(with_home, Some("/other".into()));
        let env = again.auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .env
            .clone()
            .unwrap();
        assert_eq!(
            env.iter()
                .filter(|pair| pair.get("name").map(String::as_str) == Some("HOME"))
                .count(),
            1
        );
    }

    #[test]
    fn insecure_survives_the_round_trip() {
        let connection = KubernetesConnection {
            host: Some("https://127.0.0.1:6443".into()),
            insecure: Some(true),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = connection
            .resolve(&no_env)
            .unwrap()
            .write_private_kubeconfig(dir.path())
            .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("insecure-skip-tls-verify: true"), "{text}");
    }

    #[test]
    fn writing_twice_into_the_same_dir_fails_instead_of_clobbering() {
        let resolved = full_connection().resolve(&no_env).unwrap();
        let dir = tempfile::tempdir().unwrap();
        resolved.write_private_kubeconfig(dir.path()).unwrap();
        assert!(resolved.write_private_kubeconfig(dir.path()).is_err());
    }

    #[tokio::test]
    async fn kube_config_and_client_build_from_the_resolved_connection() {
        let resolved = full_connection().resolve(&no_env).unwrap();
        let config = resolved.kube_config().await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(
            config
                .proxy_url
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("http://127.0.0.1:3128/")
        );
        assert_eq!(
            config.tls_server_name.as_deref(),
            Some("kubernetes.default")
        );
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        resolved.client().await.unwrap();
    }

    #[test]
    fn non_pem_material_is_refused_without_echoing_it() {
        let connection = KubernetesConnection {
            host: Some("https://127.0.0.1:6443".into()),
            token: Some("tok-3141".into()),
            client_certificate: Some(full_connection().client_certificate.unwrap()),
            client_key: Some("key-material-2718".into()),
            ..Default::default()
        };
        let error = connection.resolve(&no_env).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(
                error,
                crate::ConnectionError::NotPem {
                    field: "client_key"
                }
            ),
            "{message}"
        );
        assert!(
            !message.contains("key-material-2718") && !message.contains("tok-3141"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_malformed_certificate_fails_the_client_build_without_the_token_in_the_message() {
        let connection = KubernetesConnection {
            host: Some("https://127.0.0.1:6443".into()),
            token: Some("tok-3141".into()),
            cluster_ca_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            ),
            ..Default::default()
        };
        let resolved = connection.resolve(&no_env).unwrap();
        let message = match resolved.kube_config().await {
            Ok(_) => resolved.client().await.map(|_| ()).unwrap_err().to_string(),
            Err(error) => error.to_string(),
        };
        assert!(!message.contains("tok-3141"), "{message}");
        assert!(!format!("{resolved:?}").contains("tok-3141"));
    }
}
