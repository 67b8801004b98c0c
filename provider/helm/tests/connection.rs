#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

//! The connection settings of `kube-connection` work the same for kube-rs and for helm (through
//! the private kubeconfig): explicit host/token/CA, tls_server_name, an exec credential plugin
//! and proxy_url, each against the Kubernetes API test server over HTTPS with token auth.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use helm_driver::{
    HelmBinary, HelmFailure, HelmRunner, RunOptions, Uninstall, read_latest_release,
};
use kube_connection::{ExecCredential, KubernetesConnection, ResolvedConnection};
use kube_test_server::{Options, TestCluster};

fn tool(variable: &str, file: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/bin")
                .join(file)
        })
}

fn runners() -> Vec<HelmRunner> {
    [tool("HELM4_BIN", "helm"), tool("HELM3_BIN", "helm3")]
        .iter()
        .map(|path| HelmRunner::new(HelmBinary::detect(Some(path)).unwrap()))
        .collect()
}

fn start() -> TestCluster {
    TestCluster::start(Options::default()).unwrap()
}

fn explicit(cluster: &TestCluster) -> KubernetesConnection {
    KubernetesConnection {
        host: Some(cluster.url().to_string()),
        token: Some(cluster.token().unwrap().to_string()),
        cluster_ca_certificate: Some(cluster.ca_pem().unwrap().to_string()),
        ..Default::default()
    }
}

fn resolve(connection: &KubernetesConnection) -> ResolvedConnection {
    connection.resolve(&|_| None).unwrap()
}

/// Reaches the API through kube-rs: `Ok` when authenticated and answered.
async fn kube_reaches(connection: &ResolvedConnection) -> Result<(), String> {
    let client = connection.client().await.map_err(|e| e.to_string())?;
    read_latest_release(&client, "default", "absent")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Reaches the API through helm: uninstalling an absent release fails with "not found" only
/// when helm got through (TLS, auth) to the release storage.
async fn helm_failure(runner: &HelmRunner, connection: &ResolvedConnection) -> Option<HelmFailure> {
    let request = Uninstall {
        release: "absent".into(),
        namespace: "default".into(),
        wait: false,
        timeout: None,
        cascade: None,
    };
    runner
        .uninstall(
            connection,
            &request,
            &RunOptions::new(Duration::from_secs(60)),
        )
        .await
        .unwrap_err()
        .failure()
}

#[tokio::test]
async fn explicit_host_token_and_ca_work_for_kube_rs_and_helm() {
    let cluster = start();
    let connection = resolve(&explicit(&cluster));
    kube_reaches(&connection).await.unwrap();
    for runner in runners() {
        assert_eq!(
            helm_failure(&runner, &connection).await,
            Some(HelmFailure::ReleaseNotFound)
        );
    }

    let wrong_token = resolve(&KubernetesConnection {
        token: Some("wrong".into()),
        ..explicit(&cluster)
    });
    assert!(kube_reaches(&wrong_token).await.is_err());
    for runner in runners() {
        assert_ne!(
            helm_failure(&runner, &wrong_token).await,
            Some(HelmFailure::ReleaseNotFound)
        );
    }
}

#[tokio::test]
async fn tls_server_name_is_honoured_by_both() {
    let cluster = start();
    let matching = resolve(&KubernetesConnection {
        tls_server_name: Some("localhost".into()),
        ..explicit(&cluster)
    });
    kube_reaches(&matching).await.unwrap();
    let wrong = resolve(&KubernetesConnection {
        tls_server_name: Some("wrong.example".into()),
        ..explicit(&cluster)
    });
    assert!(
        kube_reaches(&wrong).await.is_err(),
        "a certificate not valid for the name must be refused"
    );
    for runner in runners() {
        assert_eq!(
            helm_failure(&runner, &matching).await,
            Some(HelmFailure::ReleaseNotFound)
        );
        assert_eq!(
            helm_failure(&runner, &wrong).await,
            Some(HelmFailure::ClusterUnreachable)
        );
    }
}

fn token_plugin(dir: &Path) -> PathBuf {
    let script = dir.join("token-plugin.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$PLUGIN_TOKEN\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[tokio::test]
async fn exec_credential_plugin_supplies_the_token_to_both() {
    let cluster = start();
    let dir = tempfile::tempdir().unwrap();
    let script = token_plugin(dir.path());
    let with_plugin = |token: &str| {
        resolve(&KubernetesConnection {
            token: None,
            exec: Some(ExecCredential {
                api_version: "client.authentication.k8s.io/v1beta1".into(),
                command: script.to_string_lossy().into_owned(),
                args: Vec::new(),
                env: BTreeMap::from([("PLUGIN_TOKEN".to_string(), token.to_string())]),
            }),
            ..explicit(&cluster)
        })
    };
    let good = with_plugin(cluster.token().unwrap());
    kube_reaches(&good).await.unwrap();
    let bad = with_plugin("not-the-token");
    assert!(kube_reaches(&bad).await.is_err());
    for runner in runners() {
        assert_eq!(
            helm_failure(&runner, &good).await,
            Some(HelmFailure::ReleaseNotFound)
        );
        assert_ne!(
            helm_failure(&runner, &bad).await,
            Some(HelmFailure::ReleaseNotFound)
        );
    }
}

/// A minimal HTTP CONNECT proxy on loopback that counts the tunnels it opened.
async fn connect_proxy() -> (u16, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tunnels);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0_u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split(' ').next())
                else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, tunnels)
}

#[tokio::test]
async fn proxy_url_carries_both_through_the_proxy() {
    if ["NO_PROXY", "no_proxy"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()))
    {
        eprintln!("skipped: NO_PROXY is set in this environment and would bypass the test proxy");
        return;
    }
    let cluster = start();
    let (port, tunnels) = connect_proxy().await;
    let connection = resolve(&KubernetesConnection {
        proxy_url: Some(format!("http://127.0.0.1:{port}")),
        ..explicit(&cluster)
    });
    kube_reaches(&connection).await.unwrap();
    let after_kube = tunnels.load(Ordering::SeqCst);
    assert!(after_kube >= 1, "kube-rs did not use the proxy");
    for runner in runners() {
        let before = tunnels.load(Ordering::SeqCst);
        assert_eq!(
            helm_failure(&runner, &connection).await,
            Some(HelmFailure::ReleaseNotFound)
        );
        assert!(
            tunnels.load(Ordering::SeqCst) > before,
            "helm {} did not use the proxy",
            runner.binary().version
        );
    }
}
