//! `gitlabrunner_release` end to end with real terraform and real helm 4.1 and 3.19 against the
//! Kubernetes API test server: the seed configuration's objects, a no-op second plan, an update in
//! place, drift made out of band (helm `--set`, a ConfigMap edit, a deleted Role) planned and
//! repaired, controller-owned fields ignored, import with an empty plan, and destroy.

mod release_support;

use acceptance::KubeWorld;
use release_support::{
    HelmVersion, certificate_pem, chart_path, helm, helm_bin, ok, release_attr, seed_config,
    workdir,
};
use serde_json::json;

const RELEASE: &str = "gitlab-runner";

fn lifecycle(version: HelmVersion) {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, version);
    let namespace = world.create_namespace("rel");
    let cert = certificate_pem();
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &seed_config(&world, &helm_path, &namespace, 4, &cert),
    );

    // Create.
    dir.apply().success();
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert_eq!(release_attr(&dir, "revision"), 1);
    assert_eq!(release_attr(&dir, "chart_version"), "0.86.0-fixture");
    assert_eq!(release_attr(&dir, "drifted_objects"), json!([]));

    // The rendered objects in the API server.
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("the chart's ConfigMap exists");
    let template = config_map["data"]["config.template.toml"]
        .as_str()
        .expect("config.template.toml");
    for expected in [
        "privileged = true",
        "\"registry.example.com/*\"",
        "\"docker:*-dind\"",
        "name = \"docker-certs\"",
        "mount_path = \"/certs/client\"",
        "medium = \"Memory\"",
        "\"DOCKER_TLS_CERTDIR=/certs\"",
    ] {
        assert!(
            template.contains(expected),
            "config.template.toml lacks {expected}:\n{template}"
        );
    }
    assert!(
        config_map["data"]["config.toml"]
            .as_str()
            .unwrap_or_default()
            .contains("concurrent = 4"),
        "{config_map}"
    );
    assert_eq!(config_map["data"]["runner-name"], "k8s-runner");

    let deployment = world
        .get_json("deployment", &namespace, RELEASE)
        .expect("Deployment exists");
    let pod = &deployment["spec"]["template"];
    let token_digest = dir
        .resource_attributes("gitlabrunner_token_secret.token")
        .expect("token secret in state")["token_digest"]
        .clone();
    assert!(
        token_digest
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{token_digest}"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["gitlabrunner.io/token-digest"],
        token_digest
    );
    let spec = &pod["spec"];
    assert_eq!(spec["securityContext"]["runAsUser"], 999);
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(spec["serviceAccountName"], "gitlab-runner");
    assert_eq!(spec["imagePullSecrets"], json!([{"name": "regcred"}]));
    let container = &spec["containers"][0];
    assert_eq!(
        container["image"],
        "registry.gitlab.com/gitlab-org/gitlab-runner:ubi-fips-v18.9.0"
    );
    assert_eq!(container["command"][0], "/usr/bin/tini");
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let volumes = spec["volumes"].as_array().expect("volumes");
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == "gitlab-certs"),
        "the cert Secret is mounted: {volumes:?}"
    );
    assert!(
        volumes
            .iter()
            .any(|v| v["projected"]["sources"][0]["secret"]["name"] == "runner-token"),
        "the token Secret is projected: {volumes:?}"
    );

    let role = world
        .get_json("role", &namespace, RELEASE)
        .expect("Role exists");
    assert_eq!(
        role["rules"],
        json!([{
            "apiGroups": [""],
            "resources": ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"],
            "verbs": ["get", "list", "watch", "create", "patch", "delete", "update"],
        }])
    );
    let account = world
        .get_json("serviceaccount", &namespace, "gitlab-runner")
        .expect("ServiceAccount exists");
    assert_eq!(account["imagePullSecrets"], json!([{"name": "regcred"}]));

    // No-op second plan.
    dir.plan().expect_code(0);

    // Update in place.
    dir.write(
        "main.tf",
        &seed_config(&world, &helm_path, &namespace, 6, &cert),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("update in-place"), "{plan:?}");
    dir.apply().success();
    assert_eq!(release_attr(&dir, "revision"), 2);
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("ConfigMap");
    assert!(
        config_map["data"]["config.toml"]
            .as_str()
            .unwrap_or_default()
            .contains("concurrent = 6")
    );
    dir.plan().expect_code(0);

    // Drift 1: values changed by hand with real helm.
    let chart = chart_path();
    let out = helm(
        &world,
        &helm_path,
        &[
            "upgrade",
            RELEASE,
            chart.to_str().expect("utf-8 path"),
            "-n",
            &namespace,
            "--reuse-values",
            "--set",
            "concurrent=3",
        ],
    );
    ok(&out, "helm upgrade --reuse-values --set concurrent=3");
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("ConfigMap");
    assert!(
        config_map["data"]["config.toml"]
            .as_str()
            .unwrap_or_default()
            .contains("concurrent = 3")
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("values_digest"), "{plan:?}");
    dir.apply().success();
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("ConfigMap");
    assert!(
        config_map["data"]["config.toml"]
            .as_str()
            .unwrap_or_default()
            .contains("concurrent = 6")
    );
    dir.plan().expect_code(0);

    // Drift 2: a ConfigMap field edited (as kubectl edit does) and the Role deleted.
    world.edit_by_hand(
        "configmap",
        &namespace,
        RELEASE,
        &json!({"data": {"runner-name": "edited-by-hand"}}),
    );
    let out = world.kubectl(&["delete", "role", RELEASE, "-n", &namespace]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("drifted_objects"), "{plan:?}");
    assert!(plan.stdout.contains("object deleted"), "{plan:?}");
    assert!(plan.stdout.contains("data.runner-name changed"), "{plan:?}");
    dir.apply().success();
    assert!(
        world.get_json("role", &namespace, RELEASE).is_some(),
        "the Role is back"
    );
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("ConfigMap");
    assert_eq!(config_map["data"]["runner-name"], "k8s-runner");
    dir.plan().expect_code(0);

    // Fields a controller or the API server owns are not drift.
    world.edit_by_hand(
        "deployment",
        &namespace,
        RELEASE,
        &json!({
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "9"}},
            "spec": {"progressDeadlineSeconds": 600, "revisionHistoryLimit": 10},
        }),
    );
    dir.plan().expect_code(0);

    // Import after losing the state entry: the plan is empty again.
    dir.run(&["state", "rm", "-no-color", "gitlabrunner_release.runner"])
        .success();
    dir.import(
        "gitlabrunner_release.runner",
        &format!("{namespace}/{RELEASE}"),
    )
    .success();
    let plan = dir.plan();
    plan.expect_code(0);

    // Destroy: a plain uninstall.
    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
    assert!(world.get_json("configmap", &namespace, RELEASE).is_none());
    let out = world.kubectl(&[
        "get",
        "secrets",
        "-n",
        &namespace,
        "-l",
        "owner=helm",
        "-o",
        "name",
    ]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "release Secrets remain"
    );
}

#[test]
fn seed_release_lifecycle_with_helm_4() {
    lifecycle(HelmVersion::Four);
}

#[test]
fn seed_release_lifecycle_with_helm_3() {
    lifecycle(HelmVersion::Three);
}
