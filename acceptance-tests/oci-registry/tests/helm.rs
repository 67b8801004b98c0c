//! Conformance with real helm 4 and helm 3: push, show, pull, template, login, over plain HTTP
//! and TLS, with no auth, basic auth and the bearer token flow.

// Scenario functions shared by the helm 4 and helm 3 tests unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::helm::{ChartVersion, Helm, HelmVersion, Transport, assert_unauthorized};
use oci_registry_test_server::{Auth, AuthKind, LoggedRequest, Options, TestRegistry};

const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The fixture chart's version, and the archive `helm pull` writes for it.
const FIXTURE_VERSION: &str = "0.86.0-fixture";
const FIXTURE_ARCHIVE: &str = "gitlab-runner-0.86.0-fixture.tgz";
/// The repository `helm push … oci://HOST/charts` stores the fixture chart in.
const CHART_REPO: &str = "charts/gitlab-runner";

const PLAIN_HTTP: Transport = Transport::PlainHttp;

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

fn start(options: Options) -> TestRegistry {
    TestRegistry::start(options).unwrap()
}

fn with_auth(auth: Auth) -> TestRegistry {
    start(Options {
        auth,
        ..Default::default()
    })
}

fn bearer(anonymous_pull: bool) -> Auth {
    Auth::Bearer {
        username: "robot".into(),
        password: "bearer-secret-pw".into(),
        anonymous_pull,
    }
}

/// Checks the stored manifest for `tag` has helm's media types and the chart bytes.
fn assert_helm_manifest(registry: &TestRegistry, repo: &str, tag: &str, archive: &Path) {
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

/// Asserts the registry logged a `METHOD PATH` request answered with `status`.
#[track_caller]
fn assert_logged(log: &[LoggedRequest], method: &str, path: &str, status: u16) {
    assert!(
        log.iter()
            .any(|r| r.method == method && r.path == path && r.status == status),
        "no {method} {path} answered {status} in {log:#?}"
    );
}

fn push_show_pull_template_over_plain_http(version: HelmVersion) {
    let registry = start(Options::default());
    let helm = Helm::new(version);
    let archive = helm.package(FIXTURE_VERSION);
    let out = helm.push(&archive, &registry.oci_url("charts"), &PLAIN_HTTP);
    assert!(
        out.contains(&format!(
            "Pushed: {}/charts/gitlab-runner:0.86.0-fixture",
            registry.host()
        )),
        "{out}"
    );
    assert_eq!(registry.tags(CHART_REPO), vec![FIXTURE_VERSION]);
    assert_helm_manifest(&registry, CHART_REPO, FIXTURE_VERSION, &archive);
    let digest = registry
        .manifest(CHART_REPO, FIXTURE_VERSION)
        .unwrap()
        .digest;
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");

    let chart_ref = registry.oci_url(CHART_REPO);
    let shown = helm.show_chart(&chart_ref, FIXTURE_VERSION, &PLAIN_HTTP);
    assert!(
        shown.contains("name: gitlab-runner") && shown.contains("version: 0.86.0-fixture"),
        "{shown}"
    );

    let pulled = helm.pull_into(
        &chart_ref,
        ChartVersion::Exact(FIXTURE_VERSION),
        &PLAIN_HTTP,
    );
    assert_eq!(
        std::fs::read(pulled.join(FIXTURE_ARCHIVE)).unwrap(),
        std::fs::read(&archive).unwrap()
    );

    let rendered = helm.ok(&[
        "template",
        "probe",
        &chart_ref,
        "--version",
        FIXTURE_VERSION,
        "--plain-http",
        "--set",
        "gitlabUrl=https://gitlab.example.com",
    ]);
    assert!(rendered.contains("kind:"), "{rendered}");

    // Pulling by digest works too.
    let by_digest = helm.pull_into(
        &format!("{chart_ref}@{digest}"),
        ChartVersion::Unpinned,
        &PLAIN_HTTP,
    );
    assert_eq!(std::fs::read_dir(&by_digest).unwrap().count(), 1);

    let log = registry.requests();
    assert_logged(
        &log,
        "PUT",
        "/v2/charts/gitlab-runner/manifests/0.86.0-fixture",
        201,
    );
    assert!(log.iter().all(|r| r.auth == AuthKind::None), "{log:#?}");
    assert!(log.iter().all(|r| r.status < 500), "{log:#?}");
}
both_helms!(push_show_pull_template_over_plain_http: helm4_push_show_pull_template_over_plain_http, helm3_push_show_pull_template_over_plain_http);

fn pull_without_version_takes_the_latest_semver_tag(version: HelmVersion) {
    let registry = start(Options::default());
    let helm = Helm::new(version);
    for v in ["1.0.0", "1.2.3+meta", "1.10.0-rc.1", "0.9.9"] {
        helm.push(&helm.package(v), &registry.oci_url("charts"), &PLAIN_HTTP);
    }
    // helm stores `+` as `_` in tags; the listing is lexical.
    assert_eq!(
        registry.tags(CHART_REPO),
        vec!["0.9.9", "1.0.0", "1.10.0-rc.1", "1.2.3_meta"]
    );
    registry.clear_requests();
    let chart_ref = registry.oci_url(CHART_REPO);
    let latest = helm.pull_into(&chart_ref, ChartVersion::Unpinned, &PLAIN_HTTP);
    // The newest stable version wins; the release candidate needs --devel.
    assert!(
        latest.join("gitlab-runner-1.2.3+meta.tgz").is_file(),
        "{:?}",
        std::fs::read_dir(&latest).unwrap().collect::<Vec<_>>()
    );
    let log = registry.requests();
    assert!(
        log.iter()
            .any(|r| r.method == "GET" && r.path == "/v2/charts/gitlab-runner/tags/list"),
        "{log:#?}"
    );

    let devel = helm.pull_into(&chart_ref, ChartVersion::Devel, &PLAIN_HTTP);
    assert!(devel.join("gitlab-runner-1.10.0-rc.1.tgz").is_file());

    let exact = helm.pull_into(&chart_ref, ChartVersion::Exact("1.2.3+meta"), &PLAIN_HTTP);
    assert!(exact.join("gitlab-runner-1.2.3+meta.tgz").is_file());

    let missing = helm.pull_fails(&chart_ref, ChartVersion::Exact("7.7.7"), &PLAIN_HTTP);
    assert!(
        missing.to_lowercase().contains("7.7.7") || missing.contains("not found"),
        "{missing}"
    );
}
both_helms!(pull_without_version_takes_the_latest_semver_tag: helm4_pull_without_version_takes_the_latest_semver_tag, helm3_pull_without_version_takes_the_latest_semver_tag);

/// Pushes the fixture chart `archive` to `oci://HOST/charts`, checks it is tagged, and pulls
/// it back by version.
fn push_and_pull_back(helm: &Helm, registry: &TestRegistry, archive: &Path, transport: &Transport) {
    helm.push(archive, &registry.oci_url("charts"), transport);
    assert_eq!(registry.tags(CHART_REPO), vec![FIXTURE_VERSION]);
    let pulled = helm.pull_into(
        &registry.oci_url(CHART_REPO),
        ChartVersion::Exact(FIXTURE_VERSION),
        transport,
    );
    assert!(pulled.join(FIXTURE_ARCHIVE).is_file());
}

fn push_and_pull_over_tls_with_the_ca_file(version: HelmVersion) {
    let registry = start(Options {
        tls: true,
        ..Default::default()
    });
    assert!(registry.base_url().starts_with("https://"));
    let helm = Helm::new(version);
    let with_ca = helm.trust_ca(registry.ca_pem().unwrap());
    let archive = helm.package(FIXTURE_VERSION);
    let untrusted = helm.push_fails(
        &archive,
        &registry.oci_url("charts"),
        &Transport::SystemRoots,
    );
    assert!(untrusted.contains("certificate"), "{untrusted}");
    let skipped = helm.show_chart_fails(
        &registry.oci_url("charts/none"),
        "1.0.0",
        &Transport::SkipVerify,
    );
    assert!(
        !skipped.contains("certificate") && skipped.contains("not found"),
        "{skipped}"
    );
    push_and_pull_back(&helm, &registry, &archive, &with_ca);
}
both_helms!(push_and_pull_over_tls_with_the_ca_file: helm4_push_and_pull_over_tls_with_the_ca_file, helm3_push_and_pull_over_tls_with_the_ca_file);

/// The steps both auth modes share, over plain HTTP: a login with a wrong password is refused
/// with a 401, a login as `robot` with `password` succeeds, then `archive` is pushed and
/// pulled back.
fn login_push_pull(helm: &Helm, registry: &TestRegistry, archive: &Path, password: &str) {
    let host = registry.host();
    helm.login_refused(&host, "robot", "wrong-password", &PLAIN_HTTP);
    helm.login(&host, "robot", password, &PLAIN_HTTP);
    push_and_pull_back(helm, registry, archive, &PLAIN_HTTP);
}

fn basic_auth_login_push_pull(version: HelmVersion) {
    let registry = with_auth(Auth::Basic {
        username: "robot".into(),
        password: "basic-secret-pw".into(),
    });
    let helm = Helm::new(version);
    let archive = helm.package(FIXTURE_VERSION);
    let chart_ref = registry.oci_url(CHART_REPO);

    let anonymous = helm.push_fails(&archive, &registry.oci_url("charts"), &PLAIN_HTTP);
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
    assert!(registry.tags(CHART_REPO).is_empty());

    login_push_pull(&helm, &registry, &archive, "basic-secret-pw");

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

    helm.logout(&registry.host());
    helm.pull_fails(
        &chart_ref,
        ChartVersion::Exact(FIXTURE_VERSION),
        &PLAIN_HTTP,
    );
}
both_helms!(basic_auth_login_push_pull: helm4_basic_auth_login_push_pull, helm3_basic_auth_login_push_pull);

fn bearer_token_flow_login_push_pull(version: HelmVersion) {
    let registry = with_auth(bearer(false));
    let helm = Helm::new(version);
    let archive = helm.package(FIXTURE_VERSION);
    let chart_ref = registry.oci_url(CHART_REPO);

    login_push_pull(&helm, &registry, &archive, "bearer-secret-pw");

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
    let denied = stranger.pull_fails(
        &chart_ref,
        ChartVersion::Exact(FIXTURE_VERSION),
        &PLAIN_HTTP,
    );
    assert_unauthorized(&denied);
}
both_helms!(bearer_token_flow_login_push_pull: helm4_bearer_token_flow_login_push_pull, helm3_bearer_token_flow_login_push_pull);

fn bearer_anonymous_pull_but_no_anonymous_push(version: HelmVersion) {
    let registry = with_auth(bearer(true));
    let publisher = Helm::new(version);
    let archive = publisher.package(FIXTURE_VERSION);
    let anonymous_push = publisher.push_fails(&archive, &registry.oci_url("charts"), &PLAIN_HTTP);
    assert_unauthorized(&anonymous_push);
    publisher.login(&registry.host(), "robot", "bearer-secret-pw", &PLAIN_HTTP);
    publisher.push(&archive, &registry.oci_url("charts"), &PLAIN_HTTP);

    registry.clear_requests();
    let anonymous = Helm::new(version);
    let out = anonymous.show_chart(&registry.oci_url(CHART_REPO), FIXTURE_VERSION, &PLAIN_HTTP);
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
    let registry = start(Options {
        tls: true,
        auth: bearer(false),
        absolute_locations: true,
        ..Default::default()
    });
    let helm = Helm::new(version);
    let with_ca = helm.trust_ca(registry.ca_pem().unwrap());
    let archive = helm.package(FIXTURE_VERSION);
    helm.login(&registry.host(), "robot", "bearer-secret-pw", &with_ca);
    helm.push(&archive, &registry.oci_url("charts"), &with_ca);
    let out = helm.show_chart(&registry.oci_url(CHART_REPO), FIXTURE_VERSION, &with_ca);
    assert!(out.contains("version: 0.86.0-fixture"), "{out}");
}
both_helms!(bearer_over_tls: helm4_bearer_over_tls, helm3_bearer_over_tls);

fn upgrade_install_from_the_registry_into_a_cluster(version: HelmVersion) {
    let registry = start(Options::default());
    let cluster =
        kube_test_server::TestCluster::start(kube_test_server::Options::default()).unwrap();
    let kubeconfig = cluster.kubeconfig_path().to_str().unwrap().to_string();
    let helm = Helm::new(version);
    for v in [FIXTURE_VERSION, "1.0.0"] {
        helm.push(&helm.package(v), &registry.oci_url("charts"), &PLAIN_HTTP);
    }
    let chart_ref = registry.oci_url(CHART_REPO);
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
    release(FIXTURE_VERSION);
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
    assert_logged(&log, "GET", "/v2/charts/gitlab-runner/manifests/1.0.0", 200);
}
both_helms!(upgrade_install_from_the_registry_into_a_cluster: helm4_upgrade_install_from_the_registry_into_a_cluster, helm3_upgrade_install_from_the_registry_into_a_cluster);

/// A registry holding the fixture chart pushed over plain HTTP, and the helm that pushed it.
fn registry_with_the_fixture_chart(version: HelmVersion) -> (TestRegistry, Helm) {
    let registry = start(Options::default());
    let helm = Helm::new(version);
    let archive = helm.package(FIXTURE_VERSION);
    helm.push(&archive, &registry.oci_url("charts"), &PLAIN_HTTP);
    (registry, helm)
}

fn transient_faults_are_retried_by_helm(version: HelmVersion) {
    let (registry, helm) = registry_with_the_fixture_chart(version);
    for status in [503, 429] {
        registry.clear_requests();
        registry.fail_next(2, status);
        helm.show_chart(&registry.oci_url(CHART_REPO), FIXTURE_VERSION, &PLAIN_HTTP);
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
    let (registry, helm) = registry_with_the_fixture_chart(version);
    let chart_ref = registry.oci_url(CHART_REPO);
    registry.clear_requests();
    registry.fail_next(50, 403);
    let out = helm.show_chart_fails(&chart_ref, FIXTURE_VERSION, &PLAIN_HTTP);
    assert!(
        out.contains("403") || out.to_lowercase().contains("denied"),
        "{out}"
    );
    registry.fail_next(0, 0);
    helm.show_chart(&chart_ref, FIXTURE_VERSION, &PLAIN_HTTP);
}
both_helms!(injected_faults_surface_in_helm_errors: helm4_injected_faults_surface_in_helm_errors, helm3_injected_faults_surface_in_helm_errors);
