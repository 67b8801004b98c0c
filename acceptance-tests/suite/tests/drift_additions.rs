//! What people add by hand is drift too, and apply takes it away (issue 12). Real terraform,
//! real helm 4 and 3, real kubectl 1.35 — no admin surface, so these run against a real cluster
//! as well (`GITLABRUNNER_TEST_REAL_CLUSTER=1`).
//!
//! Each addition is made with kubectl the way a person would (`set env`, `patch` strategic /
//! merge / JSON, `scale`, `label`, `annotate`, `edit`); the plan exits 2 naming object, field path and
//! field manager; apply removes every addition; the next plan exits 0. Changes by Kubernetes
//! itself (status, the rollout revision annotation, defaults), a `kubectl rollout restart`, a field written under helm's own
//! manager (as a webhook during helm's request) and additions by a manager listed in
//! `drift_ignore_field_managers` are not drift and are kept.

mod release_support;

use acceptance::{KubeWorld, TerraformWorkdir};
use release_support::{HelmVersion, RELEASE, RUNNER_TOKEN, ReleaseHcl, helm_bin, workdir};
use serde_json::Value;

fn config(world: &KubeWorld, helm: &std::path::Path, namespace: &str) -> String {
    ReleaseHcl::new(world, helm, namespace)
        .token_secret(RUNNER_TOKEN)
        .lines(&format!(
            r#"  runner_name       = "additions"

  rbac {{
    create = true
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "secrets"]
      verbs      = ["get", "list", "watch", "create", "delete"]
    }}
  }}
  service_account {{
    create = true
    name   = "gitlab-runner"
  }}

  runner {{
    kubernetes {{
      namespace = "{namespace}"
      image     = "alpine:3.20"
    }}
  }}

  drift_ignore_field_managers = ["istio-operator"]
  timeout                     = 120"#
        ))
        .build()
}

/// Runs kubectl in the release's namespace and asserts success.
#[track_caller]
fn kubectl(world: &KubeWorld, namespace: &str, args: &[&str]) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["-n", namespace]);
    let out = world.kubectl(&all);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn live(world: &KubeWorld, kind: &str, namespace: &str) -> Value {
    world
        .get_json(kind, namespace, RELEASE)
        .unwrap_or_else(|| panic!("{kind} {namespace}/{RELEASE} exists"))
}

fn containers(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the API server recorded a manager other than helm for `spec.replicas` after
/// `kubectl scale` (a scale-subresource entry; the plan then names it).
fn replicas_manager(world: &KubeWorld, namespace: &str) -> Option<String> {
    let out = world.kubectl(&[
        "get",
        "deployment",
        RELEASE,
        "-n",
        namespace,
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let deployment: Value = serde_json::from_slice(&out.stdout).ok()?;
    deployment["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_some() && e["manager"] != "helm")
        .and_then(|e| e["manager"].as_str().map(str::to_string))
}

/// `kubectl edit <kind>/gitlab-runner` with `KUBE_EDITOR` set to a script running `editor_body`
/// on the file (`$1`).
fn kubectl_edit(world: &KubeWorld, namespace: &str, kind: &str, editor_body: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\n{editor_body}\n")).expect("write editor");
    let mut permissions = std::fs::metadata(&editor).expect("editor").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&editor, permissions).expect("chmod editor");
    let out = std::process::Command::new(&world.tools().kubectl)
        .args(["edit", kind, RELEASE, "-n", namespace])
        .env("KUBECONFIG", world.kubeconfig())
        .env("HOME", dir.path())
        .env("KUBE_EDITOR", &editor)
        .output()
        .expect("kubectl edit runs");
    assert!(
        out.status.success(),
        "kubectl edit {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kubectl patch <kind> <release> --type=<patch_type> -p <body>` (manager `kubectl-patch`).
fn patch(world: &KubeWorld, ns: &str, kind: &str, patch_type: &str, body: &str) {
    let patch_type = format!("--type={patch_type}");
    kubectl(
        world,
        ns,
        &["patch", kind, RELEASE, &patch_type, "-p", body],
    );
}

fn make_additions(world: &KubeWorld, ns: &str) {
    kubectl(
        world,
        ns,
        &["set", "env", "deployment/gitlab-runner", "HIDDEN=1"],
    );
    patch(
        world,
        ns,
        "deployment",
        "strategic",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"registry.k8s.io/pause:3.10"}]}}}}"#,
    );
    patch(
        world,
        ns,
        "rolebinding",
        "json",
        r#"[{"op":"add","path":"/subjects/-","value":{"kind":"ServiceAccount","name":"default"}}]"#,
    );
    patch(
        world,
        ns,
        "configmap",
        "merge",
        r#"{"data":{"extra-script":"echo hi"}}"#,
    );
    kubectl(world, ns, &["scale", "deployment", RELEASE, "--replicas=3"]);
    // More: a pod-template label, a volume with its mount, a Role rule, and a label and an
    // annotation on the Deployment itself.
    patch(
        world,
        ns,
        "deployment",
        "strategic",
        r#"{"spec":{"template":{"metadata":{"labels":{"team":"ops"}}}}}"#,
    );
    patch(
        world,
        ns,
        "deployment",
        "json",
        r#"[{"op":"add","path":"/spec/template/spec/volumes/-","value":{"name":"scratch","emptyDir":{}}},
            {"op":"add","path":"/spec/template/spec/containers/0/volumeMounts/-","value":{"name":"scratch","mountPath":"/scratch"}}]"#,
    );
    patch(
        world,
        ns,
        "role",
        "json",
        r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["*"]}}]"#,
    );
    kubectl(world, ns, &["label", "deployment", RELEASE, "owner=me"]);
    kubectl(
        world,
        ns,
        &["annotate", "deployment", RELEASE, "note=hand-made"],
    );
    // `kubectl edit` with a scripted editor: the ServiceAccount's token mounted everywhere.
    kubectl_edit(
        world,
        ns,
        "serviceaccount",
        "echo 'automountServiceAccountToken: true' >> \"$1\"",
    );
    // Not drift: an addition by a manager the configuration ignores.
    kubectl(
        world,
        ns,
        &[
            "patch",
            "deployment",
            RELEASE,
            "--field-manager=istio-operator",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"istio-proxy","image":"registry.k8s.io/pause:3.10"}]}}}}"#,
        ],
    );
}

fn expected_lines(ns: &str, scale_manager: Option<&str>) -> Vec<String> {
    let deployment = format!("Deployment {ns}/{RELEASE}");
    let container = "spec.template.spec.containers[name=gitlab-runner]";
    let scaled = match scale_manager {
        Some(manager) => format!("{deployment}: spec.replicas changed by {manager}"),
        None => format!("{deployment}: spec.replicas changed"),
    };
    vec![
        format!("{deployment}: {container}.env[name=HIDDEN] added by kubectl-set"),
        format!("{deployment}: spec.template.spec.containers[name=sidecar] added by kubectl-patch"),
        format!("RoleBinding {ns}/{RELEASE}: subjects[name=default] added by kubectl-patch"),
        format!("ConfigMap {ns}/{RELEASE}: data.extra-script added by kubectl-patch"),
        scaled,
        format!("{deployment}: spec.template.metadata.labels.team added by kubectl-patch"),
        format!("{deployment}: spec.template.spec.volumes[name=scratch] added by kubectl-patch"),
        format!("{deployment}: {container}.volumeMounts[name=scratch] added by kubectl-patch"),
        format!("Role {ns}/{RELEASE}: rules changed by kubectl-patch"),
        format!("{deployment}: metadata.labels.owner added by kubectl-label"),
        format!("{deployment}: metadata.annotations.note added by kubectl-annotate"),
        format!(
            "ServiceAccount {ns}/{RELEASE}: automountServiceAccountToken added by kubectl-edit"
        ),
    ]
}

fn assert_additions_gone(world: &KubeWorld, ns: &str) {
    let deployment = live(world, "deployment", ns);
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        containers(&deployment),
        ["gitlab-runner", "istio-proxy"],
        "the sidecar is gone, the ignored manager's container stays"
    );
    let runner = &spec["containers"][0];
    assert!(
        !names(&runner["env"]).contains(&"HIDDEN".to_string()),
        "{runner}"
    );
    assert!(
        !names(&runner["volumeMounts"]).contains(&"scratch".to_string()),
        "{runner}"
    );
    assert!(
        !names(&spec["volumes"]).contains(&"scratch".to_string()),
        "{spec}"
    );
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert!(
        deployment["spec"]["template"]["metadata"]["labels"]
            .get("team")
            .is_none()
    );
    assert!(deployment["metadata"]["labels"].get("owner").is_none());
    assert!(deployment["metadata"]["annotations"].get("note").is_none());
    let binding = live(world, "rolebinding", ns);
    assert_eq!(names(&binding["subjects"]), ["gitlab-runner"], "{binding}");
    let role = live(world, "role", ns);
    assert_eq!(role["rules"].as_array().map(Vec::len), Some(1), "{role}");
    let account = live(world, "serviceaccount", ns);
    assert!(
        account.get("automountServiceAccountToken").is_none(),
        "{account}"
    );
    let config_map = live(world, "configmap", ns);
    assert!(
        config_map["data"].get("extra-script").is_none(),
        "{config_map}"
    );
}

/// Changes Kubernetes makes itself, a restart stamp, a webhook-style field under helm's manager,
/// and defaults.
fn make_non_drift_changes(world: &KubeWorld, ns: &str) {
    kubectl(world, ns, &["rollout", "restart", "deployment", RELEASE]);
    kubectl(
        world,
        ns,
        &[
            "annotate",
            "deployment",
            RELEASE,
            "--overwrite",
            "deployment.kubernetes.io/revision=7",
        ],
    );
    kubectl(
        world,
        ns,
        &[
            "patch",
            "deployment",
            RELEASE,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Custom","status":"True"}]}}"#,
        ],
    );
    kubectl(
        world,
        ns,
        &[
            "patch",
            "deployment",
            RELEASE,
            "--field-manager=helm",
            "-p",
            r#"{"spec":{"template":{"metadata":{"annotations":{"webhook.example.com/injected":"true"}}}}}"#,
        ],
    );
}

fn additions_are_planned_and_removed(version: HelmVersion) {
    let world = KubeWorld::start();
    let helm = helm_bin(&world, version);
    let ns = world.create_namespace("add");
    let dir: TerraformWorkdir = workdir(&world);
    dir.write("main.tf", &config(&world, &helm, &ns));
    dir.apply().success();
    dir.plan().expect_code(0);
    let deployment = live(&world, "deployment", &ns);
    assert_eq!(
        deployment["spec"]["replicas"], 1,
        "replicas is pinned in the manifest"
    );

    make_additions(&world, &ns);
    let scale_manager = replicas_manager(&world, &ns);
    let plan = dir.plan();
    plan.expect_code(2);
    for line in expected_lines(&ns, scale_manager.as_deref()) {
        assert!(
            plan.stdout.contains(&line),
            "the plan names {line:?}:\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("istio-proxy"),
        "an ignored manager's addition is not drift:\n{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("echo hi"), "values are not shown");

    dir.apply().success();
    assert_additions_gone(&world, &ns);
    dir.plan().expect_code(0);

    make_non_drift_changes(&world, &ns);
    let deployment = live(&world, "deployment", &ns);
    assert!(
        deployment["spec"].get("revisionHistoryLimit").is_some(),
        "the server defaulted fields the chart leaves out: {deployment}"
    );
    dir.plan().expect_code(0);
}

#[test]
fn additions_by_hand_are_drift_and_apply_removes_them_with_helm_4() {
    additions_are_planned_and_removed(HelmVersion::Four);
}

#[test]
fn additions_by_hand_are_drift_and_apply_removes_them_with_helm_3() {
    additions_are_planned_and_removed(HelmVersion::Three);
}
