//! What a control plane says when a workload cannot run, read with real kubectl 1.35: the
//! ReplicaSet's `ReplicaFailure` (missing ServiceAccount, quota) with its `FailedCreate` Event,
//! `Unschedulable`, `FailedMount`, image pull failures, and a crash loop with `kubectl logs`.
//! Everything but the crash loop (an image's behaviour is a test-server hook) also runs against a
//! real cluster.

mod common;

use std::time::Duration;

use common::{Cli, Env, Kubectl, eventually};
use kube_test_server::ImageBehaviour;
use serde_json::Value;

const PAUSE: &str = "registry.k8s.io/pause:3.10";
/// A tag no registry has: pulling it fails on a real cluster as it does on the test server.
const MISSING_IMAGE: &str = "registry.k8s.io/pause:does-not-exist-kts";
const WAIT: Duration = Duration::from_secs(60);

fn deployment(namespace: &str, name: &str, image: &str, spec_extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
{spec_extra}
      containers:
        - name: main
          image: {image}
"#
    )
}

fn apply(env: &Env, kubectl: &Kubectl, yaml: &str) {
    let file = env.dir.path().join("object.yaml");
    std::fs::write(&file, yaml).expect("write manifest");
    kubectl.ok(&["apply", "--server-side", "-f", file.to_str().expect("path")]);
}

fn get_json(kubectl: &Kubectl, namespace: &str, what: &str) -> Value {
    let out = kubectl.ok(&["get", what, "-n", namespace, "-o", "json"]);
    serde_json::from_str(&out).expect("kubectl json")
}

fn items(kubectl: &Kubectl, namespace: &str, what: &str) -> Vec<Value> {
    get_json(kubectl, namespace, what)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The first item of `what` for which `pick` gives something, once there is one.
async fn wait_for(
    kubectl: &Kubectl,
    namespace: &str,
    what: &str,
    pick: impl Fn(&Value) -> Option<Value>,
) -> Value {
    let mut found = None;
    eventually(what, WAIT, || {
        found = items(kubectl, namespace, what).iter().find_map(&pick);
        let done = found.is_some();
        async move { done }
    })
    .await;
    found.unwrap_or_default()
}

fn condition(object: &Value, kind: &str) -> Option<Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

fn waiting(pod: &Value) -> Option<Value> {
    pod.pointer("/status/containerStatuses/0/state/waiting")
        .cloned()
}

fn event(reason: &'static str) -> impl Fn(&Value) -> Option<Value> {
    move |e: &Value| (e["reason"] == reason).then(|| e.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_service_account_fails_the_replicaset_create_until_it_exists() {
    let env = Env::start("sa");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    kubectl.ok(&["create", "namespace", ns]);
    apply(
        &env,
        &kubectl,
        &deployment(ns, "web", PAUSE, "      serviceAccountName: builder"),
    );

    let failure = wait_for(&kubectl, ns, "replicasets", |rs| {
        condition(rs, "ReplicaFailure")
    })
    .await;
    assert_eq!(failure["status"], "True");
    assert_eq!(failure["reason"], "FailedCreate");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("pods \"web-") && message.ends_with(&format!(
            "-\" is forbidden: error looking up service account {ns}/builder: serviceaccount \"builder\" not found"
        )),
        "{message}"
    );
    let created = wait_for(&kubectl, ns, "events", event("FailedCreate")).await;
    assert_eq!(created["type"], "Warning");
    assert_eq!(created["involvedObject"]["kind"], "ReplicaSet");
    assert_eq!(created["message"], format!("Error creating: {message}"));
    assert!(
        items(&kubectl, ns, "pods").is_empty(),
        "no pod was admitted"
    );
    let deployment = get_json(&kubectl, ns, "deployment/web");
    assert_eq!(
        condition(&deployment, "ReplicaFailure").map(|c| c["message"].clone()),
        Some(Value::from(message)),
        "the deployment controller copies its ReplicaSet's failure"
    );

    kubectl.ok(&["create", "serviceaccount", "builder", "-n", ns]);
    kubectl.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        ns,
        "--timeout=60s",
    ]);
    let rs = &items(&kubectl, ns, "replicasets")[0];
    assert!(
        condition(rs, "ReplicaFailure").is_none(),
        "cleared once pods are created: {rs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_pod_quota_fails_the_replicaset_create() {
    let env = Env::start("quota");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    kubectl.ok(&["create", "namespace", ns]);
    apply(
        &env,
        &kubectl,
        &format!(
            "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: nopods\n  namespace: {ns}\nspec:\n  hard:\n    pods: \"0\"\n"
        ),
    );
    apply(&env, &kubectl, &deployment(ns, "web", PAUSE, ""));

    let failure = wait_for(&kubectl, ns, "replicasets", |rs| {
        condition(rs, "ReplicaFailure")
    })
    .await;
    assert_eq!(failure["reason"], "FailedCreate");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("pods \"web-")
            && message.contains(
                "is forbidden: exceeded quota: nopods, requested: pods=1, used: pods=0, limited: pods=0"
            ),
        "{message}"
    );
    wait_for(&kubectl, ns, "events", event("FailedCreate")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_no_node_matches_is_unschedulable() {
    let env = Env::start("sched");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    kubectl.ok(&["create", "namespace", ns]);
    apply(
        &env,
        &kubectl,
        &deployment(
            ns,
            "web",
            PAUSE,
            "      nodeSelector:\n        kts.example.com/no-such-node: \"true\"",
        ),
    );
    let scheduled = wait_for(&kubectl, ns, "pods", |pod| {
        condition(pod, "PodScheduled").filter(|c| c["status"] == "False")
    })
    .await;
    assert_eq!(scheduled["reason"], "Unschedulable");
    let message = scheduled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("didn't match Pod's node affinity/selector"),
        "{message}"
    );
    let event = wait_for(&kubectl, ns, "events", event("FailedScheduling")).await;
    assert_eq!(event["involvedObject"]["kind"], "Pod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_volume_keeps_the_pod_creating_with_failed_mount() {
    // No `set_check_volumes`: the test server's kubelet checks volumes by default, as a real one.
    let env = Env::start("mount");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    kubectl.ok(&["create", "namespace", ns]);
    let volumes = "      volumes:\n        - name: certs\n          secret:\n            secretName: runner-certs";
    apply(&env, &kubectl, &deployment(ns, "web", PAUSE, volumes));
    let mount = wait_for(&kubectl, ns, "events", event("FailedMount")).await;
    assert_eq!(
        mount["message"],
        "MountVolume.SetUp failed for volume \"certs\" : secret \"runner-certs\" not found"
    );
    assert_eq!(mount["type"], "Warning");
    let pod = &items(&kubectl, ns, "pods")[0];
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(
        waiting(pod).map(|w| w["reason"].clone()),
        Some(Value::from("ContainerCreating")),
        "{pod}"
    );

    kubectl.ok(&[
        "create",
        "secret",
        "generic",
        "runner-certs",
        "--from-literal=ca.crt=x",
        "-n",
        ns,
    ]);
    kubectl.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        ns,
        "--timeout=60s",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_backs_off() {
    let env = Env::start("pull");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    if !env.is_real() {
        env.admin()
            .set_image(MISSING_IMAGE, &ImageBehaviour::PullFails)
            .expect("set image");
    } else if env.is_kube_test_server() {
        // `test-real-cluster.sh --self-test`: the server process runs every image, and only its
        // admin surface (unused in this mode) can make a pull fail.
        println!(
            "SKIPPED: {}: the kube-test-server runs every image; only its admin surface (absent \
             in real-cluster mode) can make a pull fail",
            std::thread::current().name().unwrap_or("<unnamed test>")
        );
        return;
    }
    kubectl.ok(&["create", "namespace", ns]);
    apply(&env, &kubectl, &deployment(ns, "web", MISSING_IMAGE, ""));
    let backoff = wait_for(&kubectl, ns, "pods", |pod| {
        waiting(pod).filter(|w| w["reason"] == "ImagePullBackOff")
    })
    .await;
    assert_eq!(
        backoff["message"],
        format!("Back-off pulling image \"{MISSING_IMAGE}\"")
    );
    let failed = wait_for(&kubectl, ns, "events", event("Failed")).await;
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("Failed to pull image \"{MISSING_IMAGE}\"")),
        "{message}"
    );
    let pod = items(&kubectl, ns, "pods")[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refused = kubectl.fails(&["logs", &pod, "-n", ns]);
    assert!(refused.contains("is waiting to start"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_loops_and_its_logs_are_served() {
    needs_test_server!();
    let env = Env::start("crash");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    let image = "registry.example.com/crasher:1";
    let lines: Vec<String> = (1..=5).map(|i| format!("line {i}")).collect();
    env.admin()
        .set_image(
            image,
            &ImageBehaviour::Crashes {
                logs: lines.clone(),
                exit_code: 2,
            },
        )
        .expect("set image");
    kubectl.ok(&["create", "namespace", ns]);
    apply(&env, &kubectl, &deployment(ns, "web", image, ""));
    let pod = wait_for(&kubectl, ns, "pods", |pod| {
        waiting(pod)
            .filter(|w| w["reason"] == "CrashLoopBackOff")
            .map(|_| pod.clone())
    })
    .await;
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 2);
    assert_eq!(status["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(status["restartCount"], 1);
    assert_eq!(status["ready"], false);
    let message = status["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("back-off 10s restarting failed container=main pod=web-"),
        "{message}"
    );
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let tail = kubectl.ok(&["logs", name, "-n", ns, "--previous", "--tail=2"]);
    assert_eq!(tail, "line 4\nline 5\n");
    let all = kubectl.ok(&["logs", name, "-n", ns, "-c", "main"]);
    assert_eq!(all, format!("{}\n", lines.join("\n")));
    wait_for(&kubectl, ns, "events", event("BackOff")).await;
}
