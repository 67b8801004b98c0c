//! Real kubectl 1.35: apply --server-side (create, update, conflicts, --force-conflicts),
//! get -o json, create secret (protobuf), scale, delete -f.

mod common;

use std::time::Duration;

use common::{Cli, Env, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

fn manifest(namespace: &str, greeting: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: greet
  namespace: {namespace}
data:
  greeting: {greeting}
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: {namespace}
stringData:
  password: s3cr3t
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
  labels:
    app: web
spec:
  replicas: {replicas}
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
"#
    )
}

fn get_json(kubectl: &common::Kubectl, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&kubectl.ok(&all)).expect("kubectl json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_get_scale_delete() {
    let env = Env::start("kctl");
    let kubectl = env.kubectl();
    let ns = env.namespace.as_str();
    kubectl.ok(&["create", "namespace", ns]);
    let file = env.dir.path().join("manifest.yaml");
    std::fs::write(&file, manifest(ns, "hello", 2)).expect("write manifest");
    let file = file.to_str().expect("path");

    let out = kubectl.ok(&["apply", "--server-side", "-f", file]);
    assert!(out.contains("configmap/greet serverside-applied"), "{out}");
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );

    let cm = get_json(
        &kubectl,
        &["configmap", "greet", "-n", ns, "--show-managed-fields"],
    );
    assert_eq!(cm["data"]["greeting"], "hello");
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
    let secret = get_json(&kubectl, &["secret", "creds", "-n", ns]);
    assert_eq!(secret["data"]["password"], "czNjcjN0");
    assert_eq!(secret["type"], "Opaque");
    assert!(secret.get("stringData").is_none());

    // Pods of the Deployment come up and are listed with their template labels.
    let pods: Api<Pod> = Api::namespaced(env.client().await, ns);
    eventually("2 running web pods", Duration::from_secs(120), || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .expect("list pods");
            list.items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count()
                == 2
        }
    })
    .await;
    let deploy = get_json(&kubectl, &["deployment", "web", "-n", ns]);
    assert_eq!(deploy["status"]["readyReplicas"], 2);
    // Human-readable output (server-side Table columns).
    let table = kubectl.ok(&["get", "deployment", "web", "-n", ns]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], ["web", "2/2", "2", "2"], "{table}");

    // Re-apply a change as the same manager.
    std::fs::write(file, manifest(ns, "bye", 2)).expect("rewrite");
    kubectl.ok(&["apply", "--server-side", "-f", file]);
    assert_eq!(
        get_json(&kubectl, &["configmap", "greet", "-n", ns])["data"]["greeting"],
        "bye"
    );

    // Another manager changing the same field conflicts, until it forces.
    std::fs::write(file, manifest(ns, "mine", 2)).expect("rewrite");
    let err = kubectl.fails(&[
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        file,
    ]);
    assert!(
        err.contains("conflict") && err.contains(".data.greeting"),
        "{err}"
    );
    kubectl.ok(&[
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "--force-conflicts",
        "-f",
        file,
    ]);
    assert_eq!(
        get_json(&kubectl, &["configmap", "greet", "-n", ns])["data"]["greeting"],
        "mine"
    );

    // kubectl create secret sends protobuf.
    kubectl.ok(&[
        "create",
        "secret",
        "generic",
        "lit",
        "-n",
        ns,
        "--from-literal=token=abc",
    ]);
    assert_eq!(
        get_json(&kubectl, &["secret", "lit", "-n", ns])["data"]["token"],
        "YWJj"
    );

    // Imperative creates of RBAC objects and service accounts are protobuf too.
    kubectl.ok(&["create", "serviceaccount", "bot", "-n", ns]);
    kubectl.ok(&[
        "create",
        "role",
        "reader",
        "-n",
        ns,
        "--verb=get,list",
        "--resource=pods",
    ]);
    kubectl.ok(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        ns,
        "--role=reader",
        &format!("--serviceaccount={ns}:bot"),
    ]);
    let rb = get_json(&kubectl, &["rolebinding", "reader", "-n", ns]);
    assert_eq!(rb["roleRef"]["name"], "reader");
    assert_eq!(rb["subjects"][0]["name"], "bot");
    let role = get_json(&kubectl, &["role", "reader", "-n", ns]);
    assert_eq!(
        role["rules"][0]["verbs"],
        serde_json::json!(["get", "list"])
    );

    // Scale to zero through the scale subresource: the pods terminate and disappear.
    kubectl.ok(&["scale", "deployment", "web", "-n", ns, "--replicas=0"]);
    eventually("web pods gone", Duration::from_secs(120), || {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels("app=web"))
                .await
                .expect("list")
                .items
                .is_empty()
        }
    })
    .await;

    let list = get_json(&kubectl, &["configmaps,secrets", "-n", ns]);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"greet") && names.contains(&"lit"),
        "{names:?}"
    );

    let out = kubectl.ok(&["delete", "-f", file]);
    assert!(out.contains("configmap \"greet\" deleted"), "{out}");
    let err = kubectl.fails(&["get", "configmap", "greet", "-n", ns]);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    let err = kubectl.fails(&["get", "deployment", "web", "-n", ns]);
    assert!(err.contains("not found"), "{err}");
}
