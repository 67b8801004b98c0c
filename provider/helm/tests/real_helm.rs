#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

//! Tests against the real helm binaries (helm 4 from `HELM4_BIN`, helm 3 from `HELM3_BIN`, else
//! `<workspace>/tools/bin/{helm,helm3}` as installed by `scripts/install-tools.sh`). No network:
//! "clusters" are closed or silent loopback ports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helm_driver::{
    ChartSource, ChartTransport, HelmBinary, HelmError, HelmFailure, HelmGeneration, HelmRunner,
    HelmSandbox, Rollback, RunOptions, Uninstall, UpgradeInstall, args,
};
use kube_connection::{KubernetesConnection, ResolvedConnection};

fn tool(variable: &str, file: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/bin")
        .join(file);
    assert!(
        path.is_file(),
        "{} missing: run `bash scripts/install-tools.sh` or set {variable}",
        path.display()
    );
    path
}

fn helm4() -> HelmBinary {
    HelmBinary::detect(Some(&tool("HELM4_BIN", "helm"))).unwrap()
}

fn helm3() -> HelmBinary {
    HelmBinary::detect(Some(&tool("HELM3_BIN", "helm3"))).unwrap()
}

#[test]
fn detects_helm4_and_helm3() {
    let four = helm4();
    assert_eq!(four.generation, HelmGeneration::Helm4);
    assert_eq!(four.version.major, 4);
    let three = helm3();
    assert_eq!(three.generation, HelmGeneration::Helm3);
    assert!(three.version.minor >= 8, "{}", three.version);
}

#[test]
fn a_binary_that_is_not_helm_is_reported_clearly() {
    let error = HelmBinary::detect(Some(Path::new("/bin/false"))).unwrap_err();
    assert!(matches!(error, HelmError::VersionCommand { .. }), "{error}");
}

/// Every `--flag` helm lists in `helm <subcommand...> --help` (local and global flags).
fn known_flags(binary: &HelmBinary, subcommand: &[&str]) -> BTreeSet<String> {
    let output = std::process::Command::new(&binary.path)
        .args(subcommand)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(str::to_string)
        .collect()
}

fn assert_flags_known(binary: &HelmBinary, invocation: &helm_driver::HelmInvocation) {
    let subcommand: Vec<&str> = match invocation.args[0].as_str() {
        "repo" | "registry" => vec![invocation.args[0].as_str(), invocation.args[1].as_str()],
        other => vec![other],
    };
    let known = known_flags(binary, &subcommand);
    for arg in invocation.args.iter().filter(|arg| arg.starts_with("--")) {
        let flag = arg.split('=').next().unwrap();
        assert!(
            known.contains(flag),
            "helm {} has no {flag} (in {:?})",
            binary.version,
            invocation.args
        );
    }
}

#[test]
fn every_flag_we_emit_exists_in_both_helms() {
    let kubeconfig = Path::new("/tmp/k");
    let values = [PathBuf::from("/tmp/v.yaml")];
    for binary in [helm4(), helm3()] {
        let generation = binary.generation;
        let everything = UpgradeInstall {
            version: Some("1.0.0".into()),
            create_namespace: true,
            wait: true,
            timeout: Some(Duration::from_secs(60)),
            atomic: true,
            history_max: Some(3),
            disable_openapi_validation: true,
            transport: ChartTransport {
                ca_pem: Some("-----BEGIN CERTIFICATE-----".into()),
                insecure_skip_tls_verify: true,
                plain_http: false,
            },
            description: Some("d".into()),
            force_conflicts: true,
            ..UpgradeInstall::new(
                "r",
                "n",
                ChartSource::Repository {
                    url: "https://charts.example".into(),
                    chart: "c".into(),
                },
            )
        };
        let with_repo_credentials = UpgradeInstall {
            credentials: Some(helm_driver::RepositoryCredentials {
                username: "u".into(),
                password: "p".into(),
            }),
            ..everything.clone()
        };
        let mut with_oci_credentials = UpgradeInstall {
            chart: ChartSource::Oci {
                reference: "oci://registry.example/c/chart".into(),
            },
            ..with_repo_credentials.clone()
        };
        with_oci_credentials.transport.plain_http = true;
        let files = args::UpgradeFiles {
            kubeconfig,
            values: &values,
            repository_ca: Some(Path::new("/tmp/ca.pem")),
        };
        for request in [everything, with_repo_credentials, with_oci_credentials] {
            for invocation in args::upgrade_install(generation, &request, files).unwrap() {
                assert_flags_known(&binary, &invocation);
            }
        }
        let uninstall = Uninstall {
            release: "r".into(),
            namespace: "n".into(),
            wait: true,
            timeout: Some(Duration::from_secs(5)),
            cascade: Some(helm_driver::Cascade::Foreground),
        };
        assert_flags_known(
            &binary,
            &args::uninstall(generation, &uninstall, kubeconfig).unwrap(),
        );
        let rollback = Rollback {
            release: "r".into(),
            namespace: "n".into(),
            revision: Some(1),
            wait: true,
            timeout: Some(Duration::from_secs(5)),
        };
        assert_flags_known(
            &binary,
            &args::rollback(generation, &rollback, kubeconfig).unwrap(),
        );
    }
}

fn connection_to(host: &str, token: &str) -> ResolvedConnection {
    KubernetesConnection {
        host: Some(host.into()),
        token: Some(token.into()),
        insecure: Some(true),
        ..Default::default()
    }
    .resolve(&|_| None)
    .unwrap()
}

fn tiny_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("tiny");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    )
    .unwrap();
    chart
}

/// A port where nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn unreachable_cluster_is_classified_and_secrets_are_redacted() {
    let charts = tempfile::tempdir().unwrap();
    let chart = tiny_chart(charts.path());
    let port = closed_port();
    for binary in [helm4(), helm3()] {
        let runner = HelmRunner::new(binary.clone());
        let connection = connection_to(&format!("https://127.0.0.1:{port}"), "kube-token-123");
        let request = UpgradeInstall::new(
            "tiny",
            "default",
            ChartSource::Local {
                path: chart.clone(),
            },
        );
        let mut options = RunOptions::new(Duration::from_secs(60));
        options.secrets.push("secret-greeting-456".into());
        options.secrets.push(port.to_string());
        let error = runner
            .upgrade_install(
                &connection,
                &request,
                "greeting: secret-greeting-456\n",
                &options,
            )
            .await
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(
            error.failure(),
            Some(HelmFailure::ClusterUnreachable),
            "helm {}: {message}",
            binary.version
        );
        assert!(!message.contains("kube-token-123"), "{message}");
        assert!(
            !message.contains(&format!(":{port}")),
            "the port was declared secret: {message}"
        );
        assert!(message.contains("***"), "{message}");
        match error {
            HelmError::CommandFailed {
                command, exit_code, ..
            } => {
                assert!(
                    command.starts_with("helm upgrade --install tiny "),
                    "{command}"
                );
                assert_eq!(exit_code, Some(1));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn uninstall_and_rollback_run_and_fail_cleanly_against_an_unreachable_cluster() {
    let port = closed_port();
    let connection = connection_to(&format!("https://127.0.0.1:{port}"), "t");
    for binary in [helm4(), helm3()] {
        let runner = HelmRunner::new(binary);
        let options = RunOptions::new(Duration::from_secs(60));
        let uninstall = Uninstall {
            release: "r".into(),
            namespace: "n".into(),
            wait: true,
            timeout: None,
            cascade: None,
        };
        let error = runner
            .uninstall(&connection, &uninstall, &options)
            .await
            .unwrap_err();
        assert_eq!(
            error.failure(),
            Some(HelmFailure::ClusterUnreachable),
            "{error}"
        );
        let rollback = Rollback {
            release: "r".into(),
            namespace: "n".into(),
            revision: None,
            wait: false,
            timeout: None,
        };
        let error = runner
            .rollback(&connection, &rollback, &options)
            .await
            .unwrap_err();
        assert_eq!(
            error.failure(),
            Some(HelmFailure::ClusterUnreachable),
            "{error}"
        );
    }
}

/// A server that accepts connections and never answers.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_hanging_helm_is_stopped_at_the_timeout() {
    let (port, server) = silent_server().await;
    let charts = tempfile::tempdir().unwrap();
    let chart = tiny_chart(charts.path());
    let runner = HelmRunner::new(helm4());
    let connection = connection_to(&format!("https://127.0.0.1:{port}"), "t");
    let request = UpgradeInstall::new("tiny", "default", ChartSource::Local { path: chart });
    let started = Instant::now();
    let error = runner
        .upgrade_install(
            &connection,
            &request,
            "{}",
            &RunOptions::new(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, HelmError::TimedOut { seconds: 2, .. }),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn cancellation_stops_helm() {
    let (port, server) = silent_server().await;
    let runner = HelmRunner::new(helm3());
    let connection = connection_to(&format!("https://127.0.0.1:{port}"), "t");
    let options = RunOptions::new(Duration::from_secs(120));
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let uninstall = Uninstall {
        release: "r".into(),
        namespace: "n".into(),
        wait: false,
        timeout: None,
        cascade: None,
    };
    let error = runner
        .uninstall(&connection, &uninstall, &options)
        .await
        .unwrap_err();
    assert!(matches!(error, HelmError::Cancelled { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20));
    server.abort();
}

/// A chart repository that answers 401 and records the Authorization header it was sent.
async fn unauthorized_repository() -> (u16, tokio::sync::mpsc::Receiver<String>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0_u8; 8192];
            let read = socket.read(&mut buffer).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..read]).to_string();
            let authorization = request
                .lines()
                .find_map(|line| {
                    line.strip_prefix("Authorization: ")
                        .or_else(|| line.strip_prefix("authorization: "))
                })
                .unwrap_or_default()
                .to_string();
            let _ = sender.send(authorization).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    (port, receiver)
}

#[tokio::test]
async fn repository_password_reaches_helm_on_stdin_and_never_appears_in_errors() {
    use base64::Engine as _;
    let (port, mut authorizations) = unauthorized_repository().await;
    for binary in [helm4(), helm3()] {
        let runner = HelmRunner::new(binary);
        let connection = connection_to("https://127.0.0.1:1", "t");
        let request = UpgradeInstall {
            credentials: Some(helm_driver::RepositoryCredentials {
                username: "deploy".into(),
                password: "pa55-word-789".into(),
            }),
            ..UpgradeInstall::new(
                "r",
                "n",
                ChartSource::Repository {
                    url: format!("http://127.0.0.1:{port}"),
                    chart: "gitlab-runner".into(),
                },
            )
        };
        let error = runner
            .upgrade_install(
                &connection,
                &request,
                "{}",
                &RunOptions::new(Duration::from_secs(60)),
            )
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("helm repo add"),
            "the repo add step fails first: {message}"
        );
        assert!(!message.contains("pa55-word-789"), "{message}");
        let sent = authorizations.recv().await.unwrap();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("deploy:pa55-word-789")
        );
        assert_eq!(sent, expected);
    }
}

#[test]
fn sandbox_is_usable_by_helm_env() {
    // `helm env` inside the sandbox reports the private directories, not the user's.
    let binary = helm4();
    let sandbox = HelmSandbox::new(&connection_to("https://127.0.0.1:1", "t")).unwrap();
    let mut command = std::process::Command::new(&binary.path);
    command.arg("env");
    for (name, value) in sandbox.environment() {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let root = sandbox.path().to_string_lossy().to_string();
    for variable in [
        "HELM_CACHE_HOME",
        "HELM_CONFIG_HOME",
        "HELM_DATA_HOME",
        "HELM_REPOSITORY_CONFIG",
    ] {
        let line = text
            .lines()
            .find(|line| line.starts_with(variable))
            .unwrap();
        assert!(line.contains(&root), "{line}");
    }
}
