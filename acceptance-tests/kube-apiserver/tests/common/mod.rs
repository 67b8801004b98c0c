//! Shared test support: a server per test (or a real cluster), real tool binaries, helm with its
//! own HOME/XDG dirs, a kube client, unique namespaces.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_test_server::{AdminClient, Options, TestCluster};

/// `GITLABRUNNER_TEST_REAL_CLUSTER=1` with `KUBECONFIG` set runs against that cluster.
pub fn real_cluster() -> Option<PathBuf> {
    if std::env::var("GITLABRUNNER_TEST_REAL_CLUSTER").as_deref() != Ok("1") {
        return None;
    }
    let path =
        std::env::var("KUBECONFIG").expect("GITLABRUNNER_TEST_REAL_CLUSTER=1 needs KUBECONFIG");
    Some(PathBuf::from(path.split(':').next().unwrap_or_default()))
}

/// Skips (returns from) a test that needs the admin surface when running against a real cluster.
#[macro_export]
macro_rules! needs_test_server {
    () => {
        if common::real_cluster().is_some() {
            // One stdout line that scripts/test-real-cluster.sh counts as skipped.
            println!(
                "SKIPPED: {}: needs the kube-test-server admin surface (real-cluster mode)",
                std::thread::current().name().unwrap_or("<unnamed test>")
            );
            return;
        }
    };
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A real tool: `$ENV_VAR`, else `<workspace>/tools/bin/<file>`. Missing → the test fails.
pub fn tool(env_var: &str, file: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return PathBuf::from(p);
    }
    let p = workspace().join("tools/bin").join(file);
    assert!(
        p.exists(),
        "{file} not found at {}: set {env_var} or run scripts/install-tools.sh \
         (it installs helm 4.1.4, helm 3.19.0 and kubectl 1.35 into tools/bin)",
        p.display()
    );
    p
}

/// The fixture chart directory.
pub fn chart() -> PathBuf {
    workspace().join("acceptance-tests/charts/gitlab-runner")
}

fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

/// One test's environment.
pub struct Env {
    pub cluster: Option<TestCluster>,
    pub kubeconfig: PathBuf,
    pub namespace: String,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh in-process server (HTTPS), or the real cluster; with a unique namespace name.
    pub fn start(prefix: &str) -> Env {
        Self::start_with(prefix, Options::default())
    }

    pub fn start_with(prefix: &str, options: Options) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let namespace = format!("kts-{prefix}-{}", suffix());
        match real_cluster() {
            Some(kubeconfig) => Env {
                cluster: None,
                kubeconfig,
                namespace,
                dir,
            },
            None => {
                let cluster = TestCluster::start(options).expect("start kube-test-server");
                let kubeconfig = cluster.kubeconfig_path().to_path_buf();
                Env {
                    cluster: Some(cluster),
                    kubeconfig,
                    namespace,
                    dir,
                }
            }
        }
    }

    pub fn is_real(&self) -> bool {
        self.cluster.is_none()
    }

    /// Whether the API server is a kube-test-server: in-process, or the separate process
    /// `scripts/test-real-cluster.sh --self-test` runs (`/version` says `gitCommit:
    /// "kube-test-server"`). Without its admin surface that process runs every image.
    pub fn is_kube_test_server(&self) -> bool {
        let out = self.kubectl().ok(&["get", "--raw", "/version"]);
        let version: serde_json::Value = serde_json::from_str(&out).expect("/version is JSON");
        version["gitCommit"] == "kube-test-server"
    }

    pub fn admin(&self) -> AdminClient {
        self.cluster
            .as_ref()
            .expect("admin surface needs the test server")
            .admin()
    }

    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    pub fn helm(&self, which: HelmKind) -> Helm {
        let home = self.dir.path().join(match which {
            HelmKind::V4 => "helm4-home",
            HelmKind::V3 => "helm3-home",
        });
        std::fs::create_dir_all(&home).expect("helm home");
        let bin = match which {
            HelmKind::V4 => tool("HELM4_BIN", "helm"),
            HelmKind::V3 => tool("HELM3_BIN", "helm3"),
        };
        Helm {
            bin,
            home,
            kubeconfig: self.kubeconfig.clone(),
        }
    }

    pub fn kubectl(&self) -> Kubectl {
        let home = self.dir.path().join("kubectl-home");
        std::fs::create_dir_all(&home).expect("kubectl home");
        Kubectl {
            bin: tool("KUBECTL_BIN", "kubectl"),
            home,
            kubeconfig: self.kubeconfig.clone(),
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.is_real() {
            let _ = self.kubectl().run(&[
                "delete",
                "namespace",
                &self.namespace,
                "--ignore-not-found",
                "--wait=false",
            ]);
        }
    }
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmKind {
    V4,
    V3,
}

/// A real CLI with its own HOME and XDG dirs and KUBECONFIG.
pub trait Cli {
    fn bin(&self) -> &Path;
    fn home(&self) -> &Path;
    fn kubeconfig(&self) -> &Path;

    fn run(&self, args: &[&str]) -> Output {
        let home = self.home();
        Command::new(self.bin())
            .args(args)
            .env("HOME", home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("KUBECONFIG", self.kubeconfig())
            .env_remove("HELM_DRIVER")
            .output()
            .expect("run tool")
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {:?} failed:\nstdout: {}\nstderr: {}",
            self.bin().display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and asserts failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{} {:?} unexpectedly succeeded:\n{}",
            self.bin().display(),
            args,
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

pub struct Helm {
    bin: PathBuf,
    home: PathBuf,
    kubeconfig: PathBuf,
}

impl Cli for Helm {
    fn bin(&self) -> &Path {
        &self.bin
    }
    fn home(&self) -> &Path {
        &self.home
    }
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
}

pub struct Kubectl {
    bin: PathBuf,
    home: PathBuf,
    kubeconfig: PathBuf,
}

impl Cli for Kubectl {
    fn bin(&self) -> &Path {
        &self.bin
    }
    fn home(&self) -> &Path {
        &self.home
    }
    fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
}

/// Polls an async condition until it holds or the timeout passes.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Values that make the fixture's pod runnable on a real cluster: a pause container, and a token
/// so the chart renders the Secret the pod projects.
pub const RUNNABLE_POD: &[&str] = &[
    "--set",
    "runnerToken=glrt-fixture-token",
    "--set",
    "image.registry=registry.k8s.io",
    "--set",
    "image.image=pause",
    "--set",
    "image.tag=3.10",
    "--set-json",
    "fixtureCommand=[\"/pause\"]",
];
