//! The Kubernetes side of the test world: our API test server, started in-process per test, or a
//! real cluster when `GITLABRUNNER_TEST_REAL_CLUSTER=1` and `KUBECONFIG` point at one.

use std::collections::BTreeMap;
use std::env;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use kube_test_server::{AdminClient, Options, TestCluster};
use serde_json::{Value, json};

use crate::skip::real_cluster_mode;
use crate::tools::Tools;

/// Label put on every namespace a test creates, so a maintainer can find leftovers of an
/// interrupted run: `kubectl get ns -l gitlabrunner-acceptance=true`.
pub const NAMESPACE_LABEL: &str = "gitlabrunner-acceptance";

/// Where the tests' Kubernetes API is.
///
/// Against a real cluster, dropping the world (also while a failing test unwinds) uninstalls
/// every helm release left in the namespaces it created and deletes those namespaces.
pub struct KubeWorld {
    cluster: Option<TestCluster>,
    kubeconfig: PathBuf,
    tools: Tools,
    namespaces: Mutex<Vec<String>>,
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
                namespaces: Mutex::new(Vec::new()),
            };
        }
        let cluster = TestCluster::start(options).unwrap_or_else(|e| {
            let cause = test_server_kit::binary::chain(&e);
            panic!("cannot start the Kubernetes API test server: {cause}")
        });
        KubeWorld {
            kubeconfig: cluster.kubeconfig_path().to_path_buf(),
            cluster: Some(cluster),
            tools,
            namespaces: Mutex::new(Vec::new()),
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

    /// Runs kubectl with `input` on its stdin (e.g. `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = Command::new(&self.tools.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .unwrap_or_else(|e| panic!("cannot write to kubectl: {e}"));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("kubectl did not finish: {e}"))
    }

    /// Runs kubectl and panics with its output unless it succeeds.
    #[track_caller]
    pub fn kubectl_ok(&self, args: &[&str]) -> Output {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The API server's version `(major, minor)` from `/version` (`"27+"` reads as 27).
    pub fn server_version(&self) -> (u32, u32) {
        let out = self.kubectl_ok(&["get", "--raw", "/version"]);
        let version: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("/version is not JSON: {e}"));
        parse_version(&version)
            .unwrap_or_else(|| panic!("/version has no numeric major/minor: {version}"))
    }

    /// Whether the API server is a kube-test-server — in-process, or the separate process of
    /// `scripts/test-real-cluster.sh --self-test` (its `/version` has `gitCommit:
    /// "kube-test-server"`). Without its admin surface such a server runs every image, so a test
    /// that needs a pull to fail genuinely must skip there.
    pub fn is_kube_test_server(&self) -> bool {
        let out = self.kubectl_ok(&["get", "--raw", "/version"]);
        let version: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("/version is not JSON: {e}"));
        is_kube_test_server_version(&version)
    }

    /// A hand edit as `kubectl edit` makes it: a JSON merge patch with field manager
    /// `kubectl-edit`, through the real API (works on a real cluster and on the test server).
    #[track_caller]
    pub fn edit_by_hand(&self, kind: &str, namespace: &str, name: &str, merge_patch: &Value) {
        let patch = merge_patch.to_string();
        self.kubectl_ok(&[
            "patch",
            kind,
            name,
            "-n",
            namespace,
            "--type=merge",
            "--field-manager=kubectl-edit",
            "-p",
            &patch,
        ]);
    }

    /// Creates a bare pod standing in for a CI job pod (labels and annotations as the runner
    /// sets them) and puts it in `phase` through the `status` subresource. A scheduling gate
    /// keeps a real cluster's scheduler and kubelets away from it, so the phase stays what the
    /// test sets.
    #[track_caller]
    pub fn create_job_pod(
        &self,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<&str, &str>,
        annotations: &BTreeMap<&str, String>,
        phase: &str,
    ) {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": namespace,
                "labels": labels, "annotations": annotations,
            },
            "spec": {
                "schedulingGates": [{"name": "gitlabrunner.test/never-schedule"}],
                "containers": [{"name": "build", "image": "registry.k8s.io/pause:3.10"}],
            },
        });
        let out = self.kubectl_stdin(&["create", "-f", "-"], &pod.to_string());
        assert!(
            out.status.success(),
            "kubectl create pod {namespace}/{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.set_pod_phase(namespace, name, phase);
    }

    /// Creates a `ResourceQuota` named `name` in `namespace` with `hard` limits (e.g.
    /// `count/deployments.apps` = `0`, which makes creating a Deployment fail with 403
    /// "exceeded quota") and waits until the quota controller has filled its status, from
    /// when admission enforces it.
    #[track_caller]
    pub fn create_quota(&self, namespace: &str, name: &str, hard: &[(&str, &str)]) {
        let hard: serde_json::Map<String, Value> = hard
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let quota = json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"hard": hard},
        });
        let out = self.kubectl_stdin(&["apply", "-f", "-"], &quota.to_string());
        assert!(
            out.status.success(),
            "kubectl apply quota {namespace}/{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let status = self
                .get_json("resourcequota", namespace, name)
                .map(|q| q["status"]["hard"].clone());
            if status.is_some_and(|h| hard.keys().all(|k| h.get(k).is_some())) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the quota controller never filled {namespace}/{name}'s status"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Deletes a quota made by [`KubeWorld::create_quota`]. On a real cluster, admission reads
    /// quotas from a cache: give it a moment to see the deletion.
    #[track_caller]
    pub fn delete_quota(&self, namespace: &str, name: &str) {
        self.kubectl_ok(&["delete", "resourcequota", name, "-n", namespace]);
        if self.is_real_cluster() {
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }

    /// A ServiceAccount `name` in `namespace` allowed exactly `rules` (RBAC PolicyRules) there
    /// through a Role and RoleBinding, and a kubeconfig in `dir` that authenticates as it with a
    /// token from `kubectl create token` — how a real cluster's restricted identity is made.
    #[track_caller]
    pub fn service_account_access(
        &self,
        namespace: &str,
        name: &str,
        rules: &Value,
        dir: &Path,
    ) -> ServiceAccountAccess {
        self.kubectl_ok(&["create", "serviceaccount", name, "-n", namespace]);
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        });
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        });
        for object in [role, binding] {
            let out = self.kubectl_stdin(&["create", "-f", "-"], &object.to_string());
            assert!(
                out.status.success(),
                "kubectl create {}: {}",
                object["kind"],
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = self.kubectl_ok(&["create", "token", name, "-n", namespace]);
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(!token.is_empty(), "kubectl create token printed no token");
        let out = self.kubectl_ok(&["config", "view", "--raw", "--minify", "-o", "json"]);
        let mut config: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("kubectl config view printed no JSON: {e}"));
        let user = format!("{namespace}-{name}");
        config["users"] = json!([{"name": user, "user": {"token": token}}]);
        config["contexts"][0]["context"]["user"] = json!(user);
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        write_private(&kubeconfig, &config.to_string());
        if self.is_real_cluster() {
            // The RBAC authorizer reads bindings from a cache: let it see the new ones.
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        ServiceAccountAccess { kubeconfig, token }
    }

    /// Sets a pod's phase through the `status` subresource (what a kubelet writes).
    #[track_caller]
    pub fn set_pod_phase(&self, namespace: &str, name: &str, phase: &str) {
        let patch = json!({"status": {"phase": phase}}).to_string();
        self.kubectl_ok(&[
            "patch",
            "pod",
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ]);
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
        self.adopt_namespace(&name);
        let label = format!("{NAMESPACE_LABEL}=true");
        self.kubectl_ok(&["label", "namespace", &name, &label]);
        name
    }

    /// Makes this world remove `namespace` (and the helm releases in it) when it is dropped,
    /// for namespaces a test creates by other means (e.g. `helm --create-namespace`).
    pub fn adopt_namespace(&self, namespace: &str) {
        lock(&self.namespaces).push(namespace.to_owned());
    }

    /// Uninstalls the helm releases left in this world's namespaces, then deletes them (real
    /// cluster only: an in-process server goes with the world). Errors are printed, not
    /// raised: this runs while tests unwind, and the run's final check reports leftovers.
    fn clean_up(&self) {
        let namespaces = std::mem::take(&mut *lock(&self.namespaces));
        for namespace in namespaces.iter().rev() {
            let helm = &self.tools.helm4;
            let home = env::temp_dir();
            let list = Command::new(helm)
                .args(["list", "-a", "-q", "-n", namespace])
                .env("KUBECONFIG", &self.kubeconfig)
                .env("HOME", &home)
                .output();
            if let Ok(list) = list {
                for release in String::from_utf8_lossy(&list.stdout).split_whitespace() {
                    let out = Command::new(helm)
                        .args(["uninstall", release, "-n", namespace, "--no-hooks"])
                        .env("KUBECONFIG", &self.kubeconfig)
                        .env("HOME", &home)
                        .output();
                    if !out.as_ref().is_ok_and(|o| o.status.success()) {
                        eprintln!(
                            "cleanup: helm uninstall {release} -n {namespace} failed: {out:?}"
                        );
                    }
                }
            }
            let out = self.kubectl(&[
                "delete",
                "namespace",
                namespace,
                "--ignore-not-found",
                "--wait=false",
            ]);
            if !out.status.success() {
                eprintln!(
                    "cleanup: kubectl delete namespace {namespace}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

impl Drop for KubeWorld {
    fn drop(&mut self) {
        if self.cluster.is_none() {
            self.clean_up();
        }
    }
}

/// A restricted identity made by [`KubeWorld::service_account_access`].
pub struct ServiceAccountAccess {
    /// A kubeconfig (mode 0600) for the same cluster, authenticating as the ServiceAccount.
    pub kubeconfig: PathBuf,
    /// Its bearer token, so a test can check it never shows up in output.
    pub token: String,
}

impl std::fmt::Debug for ServiceAccountAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAccess")
            .field("kubeconfig", &self.kubeconfig)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Writes a file only its owner can read (it holds a credential).
fn write_private(path: &Path, contents: &str) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    file.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `(major, minor)` of a `/version` document; managed clusters write minors like `"27+"`.
fn parse_version(version: &Value) -> Option<(u32, u32)> {
    let number = |field: &str| -> Option<u32> {
        let text = version[field].as_str()?;
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((number("major")?, number("minor")?))
}

/// Whether a `/version` document is the kube-test-server's.
fn is_kube_test_server_version(version: &Value) -> bool {
    version["gitCommit"] == "kube-test-server"
}

fn real_cluster_requested() -> bool {
    real_cluster_mode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kube_test_server_is_told_apart_by_its_git_commit() {
        assert!(is_kube_test_server_version(
            &json!({"major": "1", "minor": "35", "gitCommit": "kube-test-server"})
        ));
        assert!(!is_kube_test_server_version(
            &json!({"major": "1", "minor": "31", "gitCommit": "6fc0a69044f1ac4c13841ec4391224a2df241460"})
        ));
    }

    #[test]
    fn versions_read_with_or_without_a_plus() {
        assert_eq!(
            parse_version(&json!({"major": "1", "minor": "27+"})),
            Some((1, 27))
        );
        assert_eq!(
            parse_version(&json!({"major": "1", "minor": "35"})),
            Some((1, 35))
        );
        assert_eq!(parse_version(&json!({"major": "1"})), None);
    }
}
