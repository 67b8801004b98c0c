//! Field ownership (`metadata.managedFields`) recorded for `Update` writes made by real kubectl
//! 1.35, as a real API server records them: each kubectl command is its own manager
//! (`kubectl-set`, `kubectl-patch`, `kubectl-edit`, `kubectl-label`, `kubectl-annotate`,
//! `kubectl-replace`; `kubectl` for `scale`, which sends no `fieldManager`), keyed lists own items
//! by `k:{…}`, atomic lists (RoleBinding `subjects`) are owned whole by the last writer, a
//! `scale` write is kept in its own `subresource: scale` entry, and a removed field is owned by
//! no one. Runs against a real cluster too (`GITLABRUNNER_TEST_REAL_CLUSTER=1`).

mod common;

use std::process::Command;

use common::{Cli, Env, Kubectl, tool};
use serde_json::{Value, json};

const SEED: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
  annotations:
    owner: platform
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.10
          env:
            - name: A
              value: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
  labels:
    app: runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: runner
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: runner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: runner
subjects:
  - kind: ServiceAccount
    name: runner
"#;

/// Applies the seed objects as field manager `helm` (what helm 4 does) in a fresh namespace. The
/// maps the commands add to (labels, annotations, data, env) exist already: a real server also
/// records the creation of a map (`".": {}`), which this test does not look at.
fn seeded(prefix: &str) -> (Env, Kubectl) {
    let env = Env::start(prefix);
    let kubectl = env.kubectl();
    kubectl.ok(&["create", "namespace", &env.namespace]);
    let file = env.dir.path().join("seed.yaml");
    std::fs::write(&file, SEED).expect("write seed");
    kubectl.ok(&[
        "apply",
        "--server-side",
        "--field-manager=helm",
        "-n",
        &env.namespace,
        "-f",
        file.to_str().expect("utf-8 path"),
    ]);
    (env, kubectl)
}

/// The object's managedFields (kubectl hides them unless asked).
fn entries(kubectl: &Kubectl, ns: &str, kind: &str, name: &str) -> Vec<Value> {
    let out = kubectl.ok(&[
        "get",
        kind,
        name,
        "-n",
        ns,
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let object: Value = serde_json::from_str(&out).expect("kubectl printed JSON");
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The one entry of `manager` (panics with every entry when there is none or several).
fn entry<'a>(all: &'a [Value], manager: &str, subresource: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .filter(|e| e["manager"] == manager && e["subresource"].as_str() == subresource)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one entry of {manager} ({subresource:?}) expected: {}",
        serde_json::to_string_pretty(all).unwrap_or_default()
    );
    found[0]
}

fn container_env(container: &str, var: &str) -> Value {
    json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
        format!("k:{{\"name\":\"{container}\"}}"): {"f:env": {
            format!("k:{{\"name\":\"{var}\"}}"): {".": {}, "f:name": {}, "f:value": {}}}}}}}}})
}

#[test]
fn each_kubectl_command_owns_what_it_added_as_its_own_update_manager() {
    let (env, kubectl) = seeded("mf-upd");
    let ns = env.namespace.as_str();

    kubectl.ok(&["set", "env", "deployment/web", "-n", ns, "HIDDEN=1"]);
    kubectl.ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        ns,
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}"#,
    ]);
    kubectl.ok(&["label", "deployment", "web", "-n", ns, "team=ops"]);
    kubectl.ok(&["annotate", "deployment", "web", "-n", ns, "note=by-hand"]);
    kubectl.ok(&[
        "patch",
        "rolebinding",
        "runner",
        "-n",
        ns,
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/subjects/-","value":{"kind":"ServiceAccount","name":"default"}}]"#,
    ]);
    kubectl.ok(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"data":{"extra":"x"}}"#,
    ]);

    let deployment = entries(&kubectl, ns, "deployment", "web");
    for e in &deployment {
        if e["manager"] != "helm" {
            assert_eq!(e["operation"], "Update", "{e}");
        }
    }
    assert_eq!(
        entry(&deployment, "kubectl-set", None)["fieldsV1"],
        container_env("pause", "HIDDEN")
    );
    let sidecar = &entry(&deployment, "kubectl-patch", None)["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
        ["f:containers"]["k:{\"name\":\"sidecar\"}"];
    assert_eq!(sidecar["."], json!({}), "{deployment:?}");
    assert_eq!(sidecar["f:image"], json!({}), "{deployment:?}");
    assert_eq!(
        entry(&deployment, "kubectl-label", None)["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:team": {}}}})
    );
    assert_eq!(
        entry(&deployment, "kubectl-annotate", None)["fieldsV1"],
        json!({"f:metadata": {"f:annotations": {"f:note": {}}}})
    );
    // The applier keeps what it set: the env var it applied is still helm's.
    assert_eq!(
        entry(&deployment, "helm", None)["operation"],
        json!("Apply")
    );
    assert!(
        entry(&deployment, "helm", None)["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
            ["f:containers"]["k:{\"name\":\"pause\"}"]["f:env"]
            .get("k:{\"name\":\"A\"}")
            .is_some(),
        "{deployment:?}"
    );

    // An atomic list is owned whole by the last writer.
    let binding = entries(&kubectl, ns, "rolebinding", "runner");
    assert_eq!(
        entry(&binding, "kubectl-patch", None)["fieldsV1"],
        json!({"f:subjects": {}})
    );
    assert!(
        entry(&binding, "helm", None)["fieldsV1"]
            .get("f:subjects")
            .is_none(),
        "helm lost subjects: {binding:?}"
    );
    let settings = entries(&kubectl, ns, "configmap", "settings");
    assert_eq!(
        entry(&settings, "kubectl-patch", None)["fieldsV1"],
        json!({"f:data": {"f:extra": {}}})
    );
}

#[test]
fn kubectl_edit_and_replace_are_update_managers_too() {
    let (env, kubectl) = seeded("mf-edit");
    let ns = env.namespace.as_str();
    // `kubectl edit` with a scripted editor that appends a key to the ConfigMap.
    let editor = env.dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/^  greeting: hello$/  greeting: hello\\n  added: by-edit/' \"$1\"\n",
    )
    .expect("write editor");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .expect("chmod");
    assert!(status.success());
    let home = env.dir.path().join("kubectl-home");
    let out = Command::new(tool("KUBECTL_BIN", "kubectl"))
        .args(["edit", "configmap", "settings", "-n", ns])
        .env("KUBE_EDITOR", &editor)
        .env("HOME", &home)
        .env("KUBECONFIG", &env.kubeconfig)
        .output()
        .expect("kubectl edit runs");
    assert!(
        out.status.success(),
        "kubectl edit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings = entries(&kubectl, ns, "configmap", "settings");
    let edit = entry(&settings, "kubectl-edit", None);
    assert_eq!(edit["operation"], "Update");
    assert_eq!(edit["fieldsV1"], json!({"f:data": {"f:added": {}}}));

    // `kubectl replace` is a PUT of the whole object.
    let out = kubectl.ok(&["get", "serviceaccount", "runner", "-n", ns, "-o", "json"]);
    let mut account: Value = serde_json::from_str(&out).expect("JSON");
    account["metadata"]["labels"]["replaced"] = json!("yes");
    let file = env.dir.path().join("sa.json");
    std::fs::write(&file, account.to_string()).expect("write sa");
    kubectl.ok(&["replace", "-f", file.to_str().expect("utf-8 path")]);
    let account = entries(&kubectl, ns, "serviceaccount", "runner");
    assert_eq!(
        entry(&account, "kubectl-replace", None)["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:replaced": {}}}}),
        "{account:?}"
    );
}

#[test]
fn scale_is_its_own_subresource_entry_and_takes_replicas() {
    let (env, kubectl) = seeded("mf-scale");
    let ns = env.namespace.as_str();
    kubectl.ok(&["scale", "deployment/web", "-n", ns, "--replicas=3"]);
    let deployment = entries(&kubectl, ns, "deployment", "web");
    // kubectl scale sends no fieldManager: the manager is the user agent's program name.
    let scale = entry(&deployment, "kubectl", Some("scale"));
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert!(
        entry(&deployment, "helm", None)["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none(),
        "the scale write took spec.replicas from helm: {deployment:?}"
    );
}

#[test]
fn a_removed_field_is_owned_by_no_one() {
    let (env, kubectl) = seeded("mf-rm");
    let ns = env.namespace.as_str();
    kubectl.ok(&["set", "env", "deployment/web", "-n", ns, "HIDDEN=1"]);
    kubectl.ok(&["label", "deployment", "web", "-n", ns, "team=ops"]);
    kubectl.ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        ns,
        "--type=json",
        "--field-manager=gitlabrunner",
        "-p",
        r#"[{"op":"remove","path":"/spec/template/spec/containers/0/env/1"},{"op":"remove","path":"/metadata/labels/team"}]"#,
    ]);
    let deployment = entries(&kubectl, ns, "deployment", "web");
    let managers: Vec<&str> = deployment
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(
        !managers.contains(&"kubectl-set")
            && !managers.contains(&"kubectl-label")
            && !managers.contains(&"gitlabrunner"),
        "removed fields are owned by no one: {deployment:?}"
    );
}

#[test]
fn the_deployment_controller_owns_the_revision_annotation() {
    let (env, kubectl) = seeded("mf-rev");
    let ns = env.namespace.as_str();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let deployment = entries(&kubectl, ns, "deployment", "web");
        let owned = deployment.iter().any(|e| {
            e["manager"] == "kube-controller-manager"
                && e["operation"] == "Update"
                && e["fieldsV1"]["f:metadata"]["f:annotations"]
                    .get("f:deployment.kubernetes.io/revision")
                    .is_some()
        });
        if owned {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kube-controller-manager owns the revision annotation: {deployment:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
