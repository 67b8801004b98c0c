//! Conformance with real helm 4 and helm 3: push, show, pull, template, login, over plain HTTP
//! and TLS, with no auth, basic auth and the bearer token flow.

// Scenario functions shared by the helm 4 and helm 3 tests unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Helm, HelmVersion};
use oci_registry_test_server::{Auth, AuthKind, Options, TestRegistry};

const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Runs a scenario against helm 4 and helm 3.
macro_rules! both_helms {
    ($scenario:ident: $v4:ident, $v3:ident) => {
        #[test]
        fn $v4() {
            $scenario(HelmVersion::V4);
        }
        #[test]
        fn $v3() {
            $scenario(HelmVersion::V3);
        }
    };
}

fn bearer(anonymous_pull: bool) -> Auth {
    Auth::Bearer {
        username: "robot".into(),
        password: "bearer-secret-pw".into(),
        anonymous_pull,
    }
}

/// Checks the stored manifest for `tag` has helm's media types and the chart bytes.
fn assert_helm_manifest(registry: &TestRegistry, repo: &str, tag: &str, archive: &std::path::Path) {
    let manifest = registry
        .manifest(repo, tag)
        .unwrap_or_else(|| panic!("no manifest {repo}:{tag}"));
    assert_eq!(manifest.media_type, OCI_MANIFEST);
    let body: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    assert_eq!(body["config"]["mediaType"], HELM_CONFIG, "{body}");
    assert_eq!(body["layers"][0]["mediaType"], HELM_CHART, "{body}");
    let layer_digest = body["layers"][0]["digest"].as_str().unwrap();
    let stored = registry
        .blob(repo, layer_digest)
        .expect("chart layer stored");
    assert_eq!(
        stored,
        std::fs::read(archive).unwrap(),
        "layer = the packaged chart"
    );
    let config_digest = body["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&registry.blob(repo, config_digest).expect("config stored"))
            .unwrap();
    assert_eq!(config["name"], "gitlab-runner");
    assert_eq!(manifest.artifact_type.as_deref(), Some(HELM_CONFIG));
}

fn push_show_pull_template_over_plain_http(version: HelmVersion) {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let helm = Helm::new(version);
    let archive = helm.package("0.86.0-fixture");
    let out = helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    assert!(
        out.contains(&format!(
            "Pushed: {}/charts/gitlab-runner:0.86.0-fixture",
            registry.host()
        )),
        "{out}"
    );
    assert_eq!(
        registry.tags("charts/gitlab-runner"),
        vec!["0.86.0-fixture"]
    );
    assert_helm_manifest(
        &registry,
        "charts/gitlab-runner",
        "0.86.0-fixture",
        &archive,
    );
    let digest = registry
        .manifest("charts/gitlab-runner", "0.86.0-fixture")
        .unwrap()
        .digest;
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");

    let chart_ref = registry.oci_url("charts/gitlab-runner");
    let shown = helm.ok(&[
        "show",
        "chart",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
    ]);
    assert!(
        shown.contains("name: gitlab-runner") && shown.contains("version: 0.86.0-fixture"),
        "{shown}"
    );

    let pulled = helm.dir("pulled");
    helm.ok(&[
        "pull",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
        "-d",
        pulled.to_str().unwrap(),
    ]);
    let file = pulled.join("gitlab-runner-0.86.0-fixture.tgz");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&archive).unwrap()
    );

    let rendered = helm.ok(&[
        "template",
        "probe",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
        "--set",
        "gitlabUrl=https://gitlab.example.com",
    ]);
    assert!(rendered.contains("kind:"), "{rendered}");

    // Pulling by digest works too.
    let by_digest = helm.dir("by-digest");
    helm.ok(&[
        "pull",
        &format!("{chart_ref}@{digest}"),
        "--plain-http",
        "-d",
        by_digest.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_dir(&by_digest).unwrap().count(), 1);

    let log = registry.requests();
    assert!(
        log.iter().any(|r| r.method == "PUT"
            && r.path == "/v2/charts/gitlab-runner/manifests/0.86.0-fixture"
            && r.status == 201),
        "{log:#?}"
    );
    assert!(log.iter().all(|r| r.auth == AuthKind::None), "{log:#?}");
    assert!(log.iter().all(|r| r.status < 500), "{log:#?}");
}
both_helms!(push_show_pull_template_over_plain_http: helm4_push_show_pull_template_over_plain_http, helm3_push_show_pull_template_over_plain_http);

fn pull_without_version_takes_the_latest_semver_tag(version: HelmVersion) {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let helm = Helm::new(version);
    for v in ["1.0.0", "1.2.3+meta", "1.10.0-rc.1", "0.9.9"] {
        let archive = helm.package(v);
        helm.ok(&[
            "push",
            archive.to_str().unwrap(),
            &registry.oci_url("charts"),
            "--plain-http",
        ]);
    }
    // helm stores `+` as `_` in tags; the listing is lexical.
    assert_eq!(
        registry.tags("charts/gitlab-runner"),
        vec!["0.9.9", "1.0.0", "1.10.0-rc.1", "1.2.3_meta"]
    );
    registry.clear_requests();
    let pulled = helm.dir("latest");
    let chart_ref = registry.oci_url("charts/gitlab-runner");
    let out = helm.ok(&[
        "pull",
        &chart_ref,
        "--plain-http",
        "-d",
        pulled.to_str().unwrap(),
    ]);
    // The newest stable version wins; the release candidate needs --devel.
    assert!(
        pulled.join("gitlab-runner-1.2.3+meta.tgz").is_file(),
        "{out}"
    );
    let log = registry.requests();
    assert!(
        log.iter()
            .any(|r| r.method == "GET" && r.path == "/v2/charts/gitlab-runner/tags/list"),
        "{log:#?}"
    );

    let devel = helm.dir("devel");
    helm.ok(&[
        "pull",
        &chart_ref,
        "--plain-http",
        "--devel",
        "-d",
        devel.to_str().unwrap(),
    ]);
    assert!(devel.join("gitlab-runner-1.10.0-rc.1.tgz").is_file());

    let exact = helm.dir("exact");
    helm.ok(&[
        "pull",
        &chart_ref,
        "--plain-http",
        "--version",
        "1.2.3+meta",
        "-d",
        exact.to_str().unwrap(),
    ]);
    assert!(exact.join("gitlab-runner-1.2.3+meta.tgz").is_file());

    let missing = helm.fails(&["pull", &chart_ref, "--plain-http", "--version", "7.7.7"]);
    assert!(
        missing.to_lowercase().contains("7.7.7") || missing.contains("not found"),
        "{missing}"
    );
}
both_helms!(pull_without_version_takes_the_latest_semver_tag: helm4_pull_without_version_takes_the_latest_semver_tag, helm3_pull_without_version_takes_the_latest_semver_tag);

fn push_and_pull_over_tls_with_the_ca_file(version: HelmVersion) {
    let registry = TestRegistry::start(Options {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    assert!(registry.base_url().starts_with("https://"));
    let helm = Helm::new(version);
    let ca = helm.write_ca(registry.ca_pem().unwrap());
    let archive = helm.package("0.86.0-fixture");
    let untrusted = helm.fails(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
    ]);
    assert!(untrusted.contains("certificate"), "{untrusted}");
    let skipped = helm.fails(&[
        "show",
        "chart",
        &registry.oci_url("charts/none"),
        "--version",
        "1.0.0",
        "--insecure-skip-tls-verify",
    ]);
    assert!(
        !skipped.contains("certificate") && skipped.contains("not found"),
        "{skipped}"
    );
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(
        registry.tags("charts/gitlab-runner"),
        vec!["0.86.0-fixture"]
    );
    let pulled = helm.dir("pulled");
    helm.ok(&[
        "pull",
        &registry.oci_url("charts/gitlab-runner"),
        "--version",
        "0.86.0-fixture",
        "--ca-file",
        ca.to_str().unwrap(),
        "-d",
        pulled.to_str().unwrap(),
    ]);
    assert!(pulled.join("gitlab-runner-0.86.0-fixture.tgz").is_file());
}
both_helms!(push_and_pull_over_tls_with_the_ca_file: helm4_push_and_pull_over_tls_with_the_ca_file, helm3_push_and_pull_over_tls_with_the_ca_file);

fn basic_auth_login_push_pull(version: HelmVersion) {
    let registry = TestRegistry::start(Options {
        auth: Auth::Basic {
            username: "robot".into(),
            password: "basic-secret-pw".into(),
        },
        ..Default::default()
    })
    .unwrap();
    let helm = Helm::new(version);
    let archive = helm.package("0.86.0-fixture");
    let chart_ref = registry.oci_url("charts/gitlab-runner");

    let anonymous = helm.fails(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    // oras-go answers the Basic challenge itself: "basic credential not found".
    assert!(
        anonymous.contains("basic credential not found"),
        "{anonymous}"
    );
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.status == 401 && r.auth == AuthKind::None)
    );
    assert!(registry.tags("charts/gitlab-runner").is_empty());

    let wrong = helm.login(
        &registry.host(),
        "robot",
        "wrong-password",
        &["--plain-http"],
    );
    let wrong_text = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        wrong_text.contains("401") || wrong_text.to_lowercase().contains("unauthorized"),
        "{wrong_text}"
    );

    let good = helm.login(
        &registry.host(),
        "robot",
        "basic-secret-pw",
        &["--plain-http"],
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    let pulled = helm.dir("pulled");
    helm.ok(&[
        "pull",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
        "-d",
        pulled.to_str().unwrap(),
    ]);
    assert!(pulled.join("gitlab-runner-0.86.0-fixture.tgz").is_file());

    let log = registry.requests();
    assert!(
        log.iter().any(|r| r.auth == AuthKind::Basic
            && r.user.as_deref() == Some("robot")
            && r.status == 201),
        "{log:#?}"
    );
    let debug = format!("{log:?}");
    assert!(
        !debug.contains("basic-secret-pw") && !debug.contains("wrong-password"),
        "{debug}"
    );

    helm.ok(&["registry", "logout", &registry.host()]);
    helm.fails(&[
        "pull",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
        "-d",
        pulled.to_str().unwrap(),
    ]);
}
both_helms!(basic_auth_login_push_pull: helm4_basic_auth_login_push_pull, helm3_basic_auth_login_push_pull);

fn bearer_token_flow_login_push_pull(version: HelmVersion) {
    let registry = TestRegistry::start(Options {
        auth: bearer(false),
        ..Default::default()
    })
    .unwrap();
    let helm = Helm::new(version);
    let archive = helm.package("0.86.0-fixture");
    let chart_ref = registry.oci_url("charts/gitlab-runner");

    let wrong = helm.login(
        &registry.host(),
        "robot",
        "wrong-password",
        &["--plain-http"],
    );
    let wrong_text = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(
        wrong_text.contains("401") || wrong_text.to_lowercase().contains("unauthorized"),
        "{wrong_text}"
    );

    let good = helm.login(
        &registry.host(),
        "robot",
        "bearer-secret-pw",
        &["--plain-http"],
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    assert_eq!(
        registry.tags("charts/gitlab-runner"),
        vec!["0.86.0-fixture"]
    );
    let pulled = helm.dir("pulled");
    helm.ok(&[
        "pull",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
        "-d",
        pulled.to_str().unwrap(),
    ]);
    assert!(pulled.join("gitlab-runner-0.86.0-fixture.tgz").is_file());

    let log = registry.requests();
    // `helm registry login` uses the OAuth2 password grant (POST); push and pull use GET /token
    // with the stored basic credentials.
    let robot = Some("robot");
    assert!(
        log.iter().any(|r| r.method == "POST"
            && r.path == "/token"
            && r.status == 200
            && r.user.as_deref() == robot),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|r| r.method == "GET"
            && r.path == "/token"
            && r.status == 200
            && r.auth == AuthKind::Basic
            && r.user.as_deref() == robot),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|r| r.auth == AuthKind::Bearer && r.method == "PUT" && r.status == 201),
        "{log:#?}"
    );
    let debug = format!("{log:?}");
    assert!(!debug.contains("bearer-secret-pw"), "{debug}");

    // Without login, nothing may be pulled (anonymous pull is off).
    let stranger = Helm::new(version);
    let denied = stranger.fails(&[
        "pull",
        &chart_ref,
        "--version",
        "0.86.0-fixture",
        "--plain-http",
    ]);
    assert!(
        denied.contains("401") || denied.to_lowercase().contains("unauthorized"),
        "{denied}"
    );
}
both_helms!(bearer_token_flow_login_push_pull: helm4_bearer_token_flow_login_push_pull, helm3_bearer_token_flow_login_push_pull);

fn bearer_anonymous_pull_but_no_anonymous_push(version: HelmVersion) {
    let registry = TestRegistry::start(Options {
        auth: bearer(true),
        ..Default::default()
    })
    .unwrap();
    let publisher = Helm::new(version);
    let archive = publisher.package("0.86.0-fixture");
    let anonymous_push = publisher.fails(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    assert!(
        anonymous_push.contains("401") || anonymous_push.to_lowercase().contains("unauthorized"),
        "{anonymous_push}"
    );
    assert!(
        publisher
            .login(
                &registry.host(),
                "robot",
                "bearer-secret-pw",
                &["--plain-http"]
            )
            .status
            .success()
    );
    publisher.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);

    registry.clear_requests();
    let anonymous = Helm::new(version);
    let out = anonymous.ok(&[
        "show",
        "chart",
        &registry.oci_url("charts/gitlab-runner"),
        "--version",
        "0.86.0-fixture",
        "--plain-http",
    ]);
    assert!(out.contains("name: gitlab-runner"), "{out}");
    let log = registry.requests();
    assert!(
        log.iter()
            .any(|r| r.path == "/token" && r.auth == AuthKind::None && r.status == 200),
        "{log:#?}"
    );
}
both_helms!(bearer_anonymous_pull_but_no_anonymous_push: helm4_bearer_anonymous_pull_but_no_anonymous_push, helm3_bearer_anonymous_pull_but_no_anonymous_push);

fn bearer_over_tls(version: HelmVersion) {
    let registry = TestRegistry::start(Options {
        tls: true,
        auth: bearer(false),
        absolute_locations: true,
        ..Default::default()
    })
    .unwrap();
    let helm = Helm::new(version);
    let ca = helm.write_ca(registry.ca_pem().unwrap());
    let archive = helm.package("0.86.0-fixture");
    let login = helm.login(
        &registry.host(),
        "robot",
        "bearer-secret-pw",
        &["--ca-file", ca.to_str().unwrap()],
    );
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    let out = helm.ok(&[
        "show",
        "chart",
        &registry.oci_url("charts/gitlab-runner"),
        "--version",
        "0.86.0-fixture",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert!(out.contains("version: 0.86.0-fixture"), "{out}");
}
both_helms!(bearer_over_tls: helm4_bearer_over_tls, helm3_bearer_over_tls);

fn upgrade_install_from_the_registry_into_a_cluster(version: HelmVersion) {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let cluster =
        kube_test_server::TestCluster::start(kube_test_server::Options::default()).unwrap();
    let kubeconfig = cluster.kubeconfig_path().to_str().unwrap().to_string();
    let helm = Helm::new(version);
    for v in ["0.86.0-fixture", "1.0.0"] {
        let archive = helm.package(v);
        helm.ok(&[
            "push",
            archive.to_str().unwrap(),
            &registry.oci_url("charts"),
            "--plain-http",
        ]);
    }
    let chart_ref = registry.oci_url("charts/gitlab-runner");
    let release = |chart_version: &str| {
        helm.ok(&[
            "upgrade",
            "--install",
            "runner",
            &chart_ref,
            "--version",
            chart_version,
            "--plain-http",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "default",
            "--set",
            "gitlabUrl=https://gitlab.example.com",
            "--set",
            "runnerToken=glrt-fixture",
        ])
    };
    release("0.86.0-fixture");
    let listed = |helm: &Helm| -> serde_json::Value {
        let out = helm.run(&[
            "list",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            "default",
            "-o",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = listed(&helm);
    assert_eq!(first[0]["chart"], "gitlab-runner-0.86.0-fixture", "{first}");
    release("1.0.0");
    let second = listed(&helm);
    assert_eq!(second[0]["chart"], "gitlab-runner-1.0.0", "{second}");
    assert_eq!(second[0]["revision"], "2", "{second}");
    let log = registry.requests();
    assert!(
        log.iter().any(|r| r.method == "GET"
            && r.path == "/v2/charts/gitlab-runner/manifests/1.0.0"
            && r.status == 200),
        "{log:#?}"
    );
}
both_helms!(upgrade_install_from_the_registry_into_a_cluster: helm4_upgrade_install_from_the_registry_into_a_cluster, helm3_upgrade_install_from_the_registry_into_a_cluster);

fn transient_faults_are_retried_by_helm(version: HelmVersion) {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let helm = Helm::new(version);
    let archive = helm.package("0.86.0-fixture");
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    for status in [503, 429] {
        registry.clear_requests();
        registry.fail_next(2, status);
        helm.ok(&[
            "show",
            "chart",
            &registry.oci_url("charts/gitlab-runner"),
            "--version",
            "0.86.0-fixture",
            "--plain-http",
        ]);
        let statuses: Vec<u16> = registry
            .requests()
            .iter()
            .take(3)
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, vec![status, status, 200]);
    }
}
both_helms!(transient_faults_are_retried_by_helm: helm4_transient_faults_are_retried_by_helm, helm3_transient_faults_are_retried_by_helm);

fn injected_faults_surface_in_helm_errors(version: HelmVersion) {
    let registry = TestRegistry::start(Options::default()).unwrap();
    let helm = Helm::new(version);
    let archive = helm.package("0.86.0-fixture");
    helm.ok(&[
        "push",
        archive.to_str().unwrap(),
        &registry.oci_url("charts"),
        "--plain-http",
    ]);
    registry.clear_requests();
    registry.fail_next(50, 403);
    let out = helm.fails(&[
        "show",
        "chart",
        &registry.oci_url("charts/gitlab-runner"),
        "--version",
        "0.86.0-fixture",
        "--plain-http",
    ]);
    assert!(
        out.contains("403") || out.to_lowercase().contains("denied"),
        "{out}"
    );
    registry.fail_next(0, 0);
    helm.ok(&[
        "show",
        "chart",
        &registry.oci_url("charts/gitlab-runner"),
        "--version",
        "0.86.0-fixture",
        "--plain-http",
    ]);
}
both_helms!(injected_faults_surface_in_helm_errors: helm4_injected_faults_surface_in_helm_errors, helm3_injected_faults_surface_in_helm_errors);
