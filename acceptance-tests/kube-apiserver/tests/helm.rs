//! Real helm 4.1.4 and helm 3.19.0 against the server (or a real cluster): install, upgrade with a
//! values change that removes resources, rollback, status, list, get values, uninstall — with and
//! without --wait, with --create-namespace — on the fixture gitlab-runner chart.

mod common;

use std::time::Duration;

use common::{Cli, Env, HelmKind, RUNNABLE_POD, chart, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::ListParams;

struct Release<'a> {
    env: &'a Env,
    helm: common::Helm,
    name: &'a str,
    fullname: String,
    wait: bool,
}

impl Release<'_> {
    fn args<'b>(&'b self, command: &'b str, extra: &[&'b str]) -> Vec<&'b str> {
        let mut args = vec![command, self.name];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--namespace", &self.env.namespace]);
        args
    }

    fn install_or_upgrade(&self, command: &str, values: &[&str]) -> String {
        let chart = chart();
        let chart = chart.to_str().expect("utf-8 path");
        let mut args = self.args(command, &[chart]);
        args.extend_from_slice(RUNNABLE_POD);
        args.extend_from_slice(values);
        if self.wait {
            args.extend_from_slice(&["--wait", "--timeout", "120s"]);
        }
        if command == "install" {
            args.push("--create-namespace");
        }
        self.helm.ok(&args)
    }
}

const V1: &[&str] = &[
    "--set",
    "gitlabUrl=https://gitlab.example.com",
    "--set",
    "runnerToken=glrt-fixture-token",
    "--set",
    "rbac.create=true",
    "--set",
    "runners.name=fixture-runner",
    "--set",
    "certsSecretName=fixture-certs",
    "--set",
    "concurrent=3",
    "--set",
    "imagePullSecrets[0].name=regcred",
    "--set",
    "serviceAccount.imagePullSecrets[0]=regcred",
    "--set",
    "podLabels.team=ci",
];

const V2: &[&str] = &[
    "--set",
    "gitlabUrl=https://gitlab.example.com",
    "--set",
    "runnerToken=glrt-fixture-token",
    "--set",
    "rbac.create=false",
    "--set",
    "runners.name=fixture-runner",
    "--set",
    "certsSecretName=fixture-certs",
    "--set",
    "concurrent=5",
];

async fn release_statuses(env: &Env, release: &str) -> Vec<(String, String)> {
    let secrets: Api<Secret> = Api::namespaced(env.client().await, &env.namespace);
    let list = secrets
        .list(&ListParams::default().labels(&format!("owner=helm,name={release}")))
        .await
        .expect("list release secrets");
    let mut out: Vec<(String, String)> = list
        .items
        .iter()
        .map(|s| {
            let labels = s.metadata.labels.clone().unwrap_or_default();
            (
                labels.get("version").cloned().unwrap_or_default(),
                labels.get("status").cloned().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn assert_v1_state(env: &Env, fullname: &str, release: &str, helm: HelmKind, wait: bool) {
    let client = env.client().await;
    let ns = &env.namespace;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm = cms.get(fullname).await.expect("configmap");
    let data = cm.data.clone().unwrap_or_default();
    assert!(
        data["config.template.toml"].contains(&format!("namespace = \"{ns}\"")),
        "tpl rendered: {data:?}"
    );
    assert!(data["config.toml"].contains("concurrent = 3"));
    let labels = cm.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["app"], fullname);
    assert_eq!(labels["chart"], "gitlab-runner-0.86.0-fixture");
    assert_eq!(labels["release"], release);
    assert_eq!(labels["heritage"], "Helm");
    let managers: Vec<(String, String)> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    let expected_op = if helm == HelmKind::V4 {
        "Apply"
    } else {
        "Update"
    };
    assert!(
        managers.contains(&("helm".to_string(), expected_op.to_string())),
        "managers {managers:?}"
    );

    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("token secret");
    let sdata = secret.data.unwrap_or_default();
    assert_eq!(sdata["runner-token"].0, b"glrt-fixture-token");
    assert_eq!(sdata["runner-registration-token"].0, b"");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));

    let dep = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("deployment");
    let spec = dep.spec.clone().expect("spec");
    let pod = spec.template.spec.clone().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(fullname));
    assert_eq!(
        pod.image_pull_secrets.unwrap_or_default()[0].name,
        "regcred"
    );
    let volumes = pod.volumes.unwrap_or_default();
    let projected = volumes
        .iter()
        .find(|v| v.name == "projected-secrets")
        .and_then(|v| v.projected.clone())
        .expect("projected");
    let items = projected.sources.unwrap_or_default()[0]
        .secret
        .clone()
        .expect("secret source")
        .items
        .unwrap_or_default();
    let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["runner-registration-token", "runner-token"]);
    let certs = volumes
        .iter()
        .find(|v| v.name == "custom-certs")
        .and_then(|v| v.secret.clone())
        .expect("certs volume");
    assert_eq!(certs.secret_name.as_deref(), Some("fixture-certs"));
    let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
    assert!(mounts.iter().any(
        |m| m.mount_path == "/home/gitlab-runner/.gitlab-runner/certs/"
            && m.read_only == Some(true)
    ));
    let env_vars = pod.containers[0].env.clone().unwrap_or_default();
    assert!(
        env_vars.iter().any(|e| e.name == "CI_SERVER_URL"
            && e.value.as_deref() == Some("https://gitlab.example.com"))
    );
    assert_eq!(
        spec.template
            .metadata
            .and_then(|m| m.labels)
            .unwrap_or_default()["team"],
        "ci"
    );
    if wait {
        let status = dep.status.expect("status after --wait");
        assert_eq!(status.ready_replicas, Some(1));
        assert_eq!(status.observed_generation, dep.metadata.generation);
        let conditions = status.conditions.unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
        );
    }

    let sa = Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("service account");
    assert_eq!(sa.image_pull_secrets.unwrap_or_default()[0].name, "regcred");
    let role = Api::<Role>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("role");
    let rule = &role.rules.unwrap_or_default()[0];
    assert_eq!(rule.api_groups.clone().unwrap_or_default(), [""]);
    assert_eq!(rule.resources.clone().unwrap_or_default(), ["*"]);
    assert_eq!(rule.verbs, ["*"]);
    let binding = Api::<RoleBinding>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("rolebinding");
    assert_eq!(binding.role_ref.name, fullname);
}

async fn lifecycle(kind: HelmKind, wait: bool, release_name: &str, expected_fullname: &str) {
    let env = Env::start(match (kind, wait) {
        (HelmKind::V4, false) => "h4",
        (HelmKind::V4, true) => "h4w",
        (HelmKind::V3, false) => "h3",
        (HelmKind::V3, true) => "h3w",
    });
    let release = Release {
        env: &env,
        helm: env.helm(kind),
        name: release_name,
        fullname: expected_fullname.to_string(),
        wait,
    };
    let fullname = release.fullname.as_str();
    let ns = env.namespace.as_str();
    let client = env.client().await;

    if wait {
        // The pod mounts the certs Secret, so it must exist before --wait can succeed (on a real
        // cluster). Creating the namespace first also covers --create-namespace on an existing one.
        use k8s_openapi::api::core::v1::Namespace;
        use kube::api::{ObjectMeta, PostParams};
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace");
        let certs = Secret {
            metadata: ObjectMeta {
                name: Some("fixture-certs".into()),
                ..Default::default()
            },
            string_data: Some(
                [(
                    "gitlab.example.com.crt".to_string(),
                    "-----BEGIN CERTIFICATE-----".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        };
        Api::<Secret>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &certs)
            .await
            .expect("certs secret");
    }

    // install (--create-namespace: the namespace does not exist yet)
    let out = release.install_or_upgrade("install", V1);
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert_v1_state(&env, fullname, release_name, kind, wait).await;
    assert_eq!(
        release_statuses(&env, release_name).await,
        [("1".into(), "deployed".into())]
    );
    let generation_v1 = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("deployment")
        .metadata
        .generation
        .expect("generation");

    // upgrade: concurrent changes, RBAC (Role, RoleBinding, ServiceAccount) is removed
    release.install_or_upgrade("upgrade", V2);
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("configmap");
    assert!(cm.data.unwrap_or_default()["config.toml"].contains("concurrent = 5"));
    assert!(
        Api::<Role>::namespaced(client.clone(), ns)
            .get_opt(fullname)
            .await
            .expect("get role")
            .is_none()
    );
    assert!(
        Api::<RoleBinding>::namespaced(client.clone(), ns)
            .get_opt(fullname)
            .await
            .expect("get rb")
            .is_none()
    );
    assert!(
        Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .get_opt(fullname)
            .await
            .expect("get sa")
            .is_none()
    );
    let dep = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(fullname)
        .await
        .expect("deployment");
    assert!(
        dep.metadata.generation.expect("generation") > generation_v1,
        "pod template changed → generation bump"
    );
    let pod_spec = dep.spec.expect("spec").template.spec.expect("pod spec");
    assert_eq!(pod_spec.service_account_name.as_deref(), Some("default"));
    assert!(
        pod_spec.image_pull_secrets.unwrap_or_default().is_empty(),
        "imagePullSecrets removed"
    );
    assert_eq!(
        release_statuses(&env, release_name).await,
        [
            ("1".into(), "superseded".into()),
            ("2".into(), "deployed".into())
        ]
    );

    // rollback to revision 1 brings the RBAC objects back
    let mut rollback = release.args("rollback", &["1"]);
    if wait {
        rollback.extend_from_slice(&["--wait", "--timeout", "120s"]);
    }
    release.helm.ok(&rollback);
    assert_v1_state(&env, fullname, release_name, kind, wait).await;
    assert_eq!(
        release_statuses(&env, release_name).await,
        [
            ("1".into(), "superseded".into()),
            ("2".into(), "superseded".into()),
            ("3".into(), "deployed".into())
        ]
    );

    // status, list, get values
    let status = release.helm.ok(&release.args("status", &[]));
    assert!(
        status.contains("STATUS: deployed") && status.contains("REVISION: 3"),
        "{status}"
    );
    let list = release.helm.ok(&["list", "--namespace", ns, "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list).expect("helm list json");
    assert_eq!(list[0]["name"], release_name);
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["revision"], "3");
    let values = release.helm.ok(&[
        "get",
        "values",
        release_name,
        "--namespace",
        ns,
        "-o",
        "json",
    ]);
    let values: serde_json::Value = serde_json::from_str(&values).expect("values json");
    assert_eq!(values["concurrent"], 3);
    assert_eq!(values["rbac"]["create"], true);

    // uninstall
    let mut uninstall = release.args("uninstall", &[]);
    if wait {
        uninstall.extend_from_slice(&["--wait", "--timeout", "120s"]);
    }
    release.helm.ok(&uninstall);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    assert!(cms.get_opt(fullname).await.expect("get cm").is_none());
    assert!(
        Api::<Secret>::namespaced(client.clone(), ns)
            .get_opt(fullname)
            .await
            .expect("get secret")
            .is_none()
    );
    assert!(
        Api::<Role>::namespaced(client.clone(), ns)
            .get_opt(fullname)
            .await
            .expect("get role")
            .is_none()
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    eventually("deployment gone", Duration::from_secs(60), || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get_opt(fullname)
                .await
                .expect("get deployment")
                .is_none()
        }
    })
    .await;
    assert!(release_statuses(&env, release_name).await.is_empty());
    let list = release.helm.ok(&["list", "--namespace", ns, "-q"]);
    assert!(list.trim().is_empty(), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm4_lifecycle() {
    lifecycle(HelmKind::V4, false, "ci", "ci-gitlab-runner").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm4_lifecycle_with_wait() {
    lifecycle(HelmKind::V4, true, "gitlab-runner-w", "gitlab-runner-w").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm3_lifecycle() {
    lifecycle(HelmKind::V3, false, "ci", "ci-gitlab-runner").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm3_lifecycle_with_wait() {
    lifecycle(HelmKind::V3, true, "gitlab-runner-w", "gitlab-runner-w").await;
}

/// Helm 4 (server-side apply) reports a field-manager conflict after an out-of-band edit of a
/// field it owns, and `--force-conflicts` takes the field back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm4_upgrade_conflicts_with_kubectl_edit() {
    let env = Env::start("h4c");
    let helm = env.helm(HelmKind::V4);
    let ns = env.namespace.as_str();
    let chart = chart();
    let chart = chart.to_str().expect("path");
    let mut install = vec![
        "install",
        "edit",
        chart,
        "--namespace",
        ns,
        "--create-namespace",
    ];
    install.extend_from_slice(RUNNABLE_POD);
    helm.ok(&install);
    // An env var added out of band to the Deployment survives helm's next apply (per-item
    // ownership of associative lists), and causes no conflict.
    let kubectl = env.kubectl();
    kubectl.ok(&[
        "patch", "deployment", "edit-gitlab-runner", "--namespace", ns, "--type", "strategic",
        "--field-manager", "kubectl-edit", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"edit-gitlab-runner","env":[{"name":"EXTRA","value":"kept"}]}]}}}}"#,
    ]);
    let mut quiet_upgrade = vec![
        "upgrade",
        "edit",
        chart,
        "--namespace",
        ns,
        "--set",
        "concurrent=9",
    ];
    quiet_upgrade.extend_from_slice(RUNNABLE_POD);
    helm.ok(&quiet_upgrade);
    let dep = Api::<Deployment>::namespaced(env.client().await, ns)
        .get("edit-gitlab-runner")
        .await
        .expect("deployment");
    let env_vars = dep
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers[0]
        .env
        .clone()
        .unwrap_or_default();
    assert!(
        env_vars
            .iter()
            .any(|e| e.name == "EXTRA" && e.value.as_deref() == Some("kept")),
        "{env_vars:?}"
    );
    assert!(env_vars.iter().any(|e| e.name == "CI_SERVER_URL"));

    // Out-of-band edit of the ConfigMap by field manager "kubectl-edit".
    kubectl.ok(&[
        "patch",
        "configmap",
        "edit-gitlab-runner",
        "--namespace",
        ns,
        "--type",
        "merge",
        "--field-manager",
        "kubectl-edit",
        "-p",
        r#"{"data":{"runner-name":"edited"}}"#,
    ]);
    let mut upgrade = vec![
        "upgrade",
        "edit",
        chart,
        "--namespace",
        ns,
        "--set",
        "runners.name=from-helm",
    ];
    upgrade.extend_from_slice(RUNNABLE_POD);
    let err = helm.fails(&upgrade);
    assert!(
        err.contains("conflict")
            && err.contains("kubectl-edit")
            && err.contains(".data.runner-name"),
        "{err}"
    );
    upgrade.push("--force-conflicts");
    helm.ok(&upgrade);
    let cm = Api::<ConfigMap>::namespaced(env.client().await, ns)
        .get("edit-gitlab-runner")
        .await
        .expect("cm");
    assert_eq!(cm.data.unwrap_or_default()["runner-name"], "from-helm");
}

/// Installing into a namespace that does not exist fails the way helm users see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_into_missing_namespace_fails() {
    let env = Env::start("h4ns");
    for kind in [HelmKind::V4, HelmKind::V3] {
        let helm = env.helm(kind);
        let chart = chart();
        let err = helm.fails(&[
            "install",
            "x",
            chart.to_str().expect("path"),
            "--namespace",
            &env.namespace,
        ]);
        assert!(
            err.contains(&format!("namespaces \"{}\" not found", env.namespace)),
            "{err}"
        );
    }
}

/// Less common paths: helm 4 client-side apply (`--server-side=false`), the legacy waiter,
/// `--dry-run=server`, cluster-wide RBAC, helm 3 `--force` (PUT with resourceVersion), a helm 3
/// release taken over by helm 4 with `--server-side=true` (managedFields migration via JSON patch),
/// and `uninstall --keep-history`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_variants() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let env = Env::start("hvar");
    let ns = env.namespace.as_str();
    let chart = chart();
    let chart = chart.to_str().expect("path");
    let helm4 = env.helm(HelmKind::V4);
    let helm3 = env.helm(HelmKind::V3);
    let client = env.client().await;
    let with_pod = |args: &[&'static str]| {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(RUNNABLE_POD.iter().map(|s| s.to_string()));
        v
    };
    let run_ok = |helm: &common::Helm, args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        helm.ok(&refs)
    };

    // --dry-run=server writes nothing.
    let mut args = with_pod(&["install", "dry", "--create-namespace", "--dry-run=server"]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm4, args);
    assert!(release_statuses(&env, "dry").await.is_empty());

    // helm 4, client-side apply, legacy waiter, cluster-wide RBAC.
    let mut args = with_pod(&[
        "install",
        "csa",
        "--create-namespace",
        "--server-side=false",
        "--wait=legacy",
        "--timeout",
        "60s",
        "--set",
        "rbac.create=true",
        "--set",
        "rbac.clusterWideAccess=true",
    ]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm4, args);
    let cr = Api::<ClusterRole>::all(client.clone())
        .get("csa-gitlab-runner")
        .await
        .expect("clusterrole");
    assert_eq!(cr.rules.unwrap_or_default()[0].verbs, ["*"]);
    let crb = Api::<ClusterRoleBinding>::all(client.clone())
        .get("csa-gitlab-runner")
        .await
        .expect("crb");
    assert_eq!(
        crb.subjects.unwrap_or_default()[0].namespace.as_deref(),
        Some(ns)
    );
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get("csa-gitlab-runner")
        .await
        .expect("cm");
    let ops: Vec<String> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.operation)
        .collect();
    assert_eq!(ops, ["Update"], "client-side apply records an Update");
    let mut args = with_pod(&[
        "upgrade",
        "csa",
        "--server-side=false",
        "--wait=legacy",
        "--timeout",
        "60s",
        "--set",
        "concurrent=7",
    ]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm4, args);
    assert!(
        Api::<ClusterRole>::all(client.clone())
            .get_opt("csa-gitlab-runner")
            .await
            .expect("get")
            .is_none()
    );
    run_ok(
        &helm4,
        vec![
            "uninstall".into(),
            "csa".into(),
            "--namespace".into(),
            ns.into(),
            "--wait".into(),
        ],
    );
    assert!(
        Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt("csa-gitlab-runner")
            .await
            .expect("get")
            .is_none()
    );

    // helm 3 install, helm 3 --force upgrade, then helm 4 takes over with server-side apply.
    let mut args = with_pod(&["install", "mig"]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm3, args);
    let mut args = with_pod(&["upgrade", "mig", "--force", "--set", "concurrent=4"]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm3, args);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    assert!(
        cms.get("mig-gitlab-runner")
            .await
            .expect("cm")
            .data
            .unwrap_or_default()["config.toml"]
            .contains("concurrent = 4")
    );
    let mut args = with_pod(&[
        "upgrade",
        "mig",
        "--server-side=true",
        "--set",
        "concurrent=6",
    ]);
    args.extend([chart.to_string(), "--namespace".into(), ns.into()]);
    run_ok(&helm4, args);
    let cm = cms.get("mig-gitlab-runner").await.expect("cm");
    assert!(cm.data.unwrap_or_default()["config.toml"].contains("concurrent = 6"));
    let managers: Vec<(String, String)> = cm
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("helm".to_string(), "Apply".to_string())),
        "{managers:?}"
    );
    assert_eq!(
        release_statuses(&env, "mig").await.last().cloned(),
        Some(("3".to_string(), "deployed".to_string()))
    );

    // uninstall --keep-history keeps the release records as "uninstalled".
    run_ok(
        &helm4,
        vec![
            "uninstall".into(),
            "mig".into(),
            "--namespace".into(),
            ns.into(),
            "--keep-history".into(),
        ],
    );
    assert!(
        cms.get_opt("mig-gitlab-runner")
            .await
            .expect("get")
            .is_none()
    );
    let statuses = release_statuses(&env, "mig").await;
    assert_eq!(
        statuses.last().cloned(),
        Some(("3".to_string(), "uninstalled".to_string()))
    );
}
