//! The Kubernetes side of the test world: our API test server, started in-process per test, or a
//! real cluster when `GITLABRUNNER_TEST_REAL_CLUSTER=1` and `KUBECONFIG` point at one.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use kube_test_server::{AdminClient, Options, TestCluster};

use crate::tools::Tools;

/// Where the tests' Kubernetes API is.
pub struct KubeWorld {
    cluster: Option<TestCluster>,
    kubeconfig: PathBuf,
    tools: Tools,
}

impl KubeWorld {
    /// A fresh in-process API test server, or the real cluster named by `KUBECONFIG` when
    /// `GITLABRUNNER_TEST_REAL_CLUSTER=1`.
    pub fn start() -> KubeWorld {
        KubeWorld::start_with(Options::default())
    }

    /// As [`KubeWorld::start`], with server options (ignored against a real cluster).
    pub fn start_with(options: Options) -> KubeWorld {
        let tools = Tools::locate();
        if real_cluster_requested() {
            let kubeconfig = env::var_os("KUBECONFIG")
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("GITLABRUNNER_TEST_REAL_CLUSTER=1 needs KUBECONFIG"));
            return KubeWorld {
                cluster: None,
                kubeconfig,
                tools,
            };
        }
        let cluster = TestCluster::start(options)
            .unwrap_or_else(|e| panic!("cannot start the Kubernetes API test server: {e}"));
        KubeWorld {
            kubeconfig: cluster.kubeconfig_path().to_path_buf(),
            cluster: Some(cluster),
            tools,
        }
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    pub fn is_real_cluster(&self) -> bool {
        self.cluster.is_none()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The in-process server, when the tests run against it.
    pub fn test_server(&self) -> Option<&TestCluster> {
        self.cluster.as_ref()
    }

    /// The test server's admin surface; `None` against a real cluster (such tests skip).
    pub fn admin(&self) -> Option<AdminClient> {
        self.cluster.as_ref().map(TestCluster::admin)
    }

    /// HCL for a provider block that reaches this world's cluster.
    pub fn provider_block(&self) -> String {
        format!(
            "provider \"gitlabrunner\" {{\n  kubernetes {{\n    config_path = \"{}\"\n  }}\n}}\n",
            self.kubeconfig.display()
        )
    }

    /// Runs the real kubectl (1.35) against this world.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(&self.tools.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"))
    }

    /// `kubectl get -o json` of one object, or `None` when it does not exist.
    pub fn get_json(&self, kind: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        let out = self.kubectl(&["get", kind, name, "-n", namespace, "-o", "json"]);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("NotFound") || stderr.contains("not found"),
                "kubectl get {kind} {namespace}/{name} failed: {stderr}"
            );
            return None;
        }
        Some(
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("kubectl printed no JSON: {e}")),
        )
    }

    /// Creates a namespace with a name unique to this process and test, and returns it.
    pub fn create_namespace(&self, prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let out = self.kubectl(&["create", "namespace", &name]);
        assert!(
            out.status.success(),
            "kubectl create namespace {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    }
}

fn real_cluster_requested() -> bool {
    env::var("GITLABRUNNER_TEST_REAL_CLUSTER").is_ok_and(|v| v == "1")
}
