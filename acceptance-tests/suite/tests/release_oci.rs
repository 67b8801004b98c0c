//! `gitlabrunner_release` from an `oci://` chart, end to end: real `helm push` into our OCI
//! registry test server, then real terraform with real helm 4 and helm 3 installing from it —
//! over plain HTTP, and over TLS with a private CA and registry credentials (the Docker token
//! flow GitLab's container registry uses), with the password write-only. An unpinned chart takes
//! the newest stable version (helm lists the tags) and records it.

mod release_support;

use std::path::Path;

use acceptance::KubeWorld;
use acceptance::oci::ChartPublisher;
use oci_registry_test_server::{Auth, AuthKind, Options, TestRegistry};
use release_support::{
    HelmVersion, chart_path, copy_tree, helm_bin, minimal_release_config, ok, release_attr, workdir,
};

const RELEASE: &str = "gitlab-runner";
const REPOSITORY: &str = "charts/gitlab-runner";
const FIXTURE_VERSION: &str = "0.86.0-fixture";
const NEXT_VERSION: &str = "0.86.1-fixture";
const REGISTRY_USER: &str = "ci-robot";
const REGISTRY_PASSWORD: &str = "oci-Pa55-wOrd-7fd1e2";

/// Publishes the fixture chart as `FIXTURE_VERSION` and a copy as `NEXT_VERSION` with real
/// helm (logging in first when the registry wants credentials).
fn publish_charts(registry: &TestRegistry, helm_path: &Path, login: bool) {
    let publisher = ChartPublisher::new(helm_path, registry);
    if login {
        publisher.login(REGISTRY_USER, REGISTRY_PASSWORD);
    }
    publisher.publish(&chart_path(), "charts");
    publish_version(&publisher, NEXT_VERSION);

    let mut tags = registry.tags(REPOSITORY);
    tags.sort();
    assert_eq!(tags, vec![FIXTURE_VERSION, NEXT_VERSION]);
}

/// Publishes a copy of the fixture chart under another `version`.
fn publish_version(publisher: &ChartPublisher, version: &str) {
    let scratch = tempfile::tempdir().expect("scratch");
    let copy = scratch.path().join("gitlab-runner");
    copy_tree(&chart_path(), &copy);
    let chart_yaml = copy.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("Chart.yaml");
    let pinned = format!("version: {FIXTURE_VERSION}");
    assert!(
        text.lines().any(|line| line.trim() == pinned),
        "fixture Chart.yaml has no `{pinned}` line"
    );
    std::fs::write(
        &chart_yaml,
        text.replace(&pinned, &format!("version: {version}")),
    )
    .expect("write Chart.yaml");
    publisher.publish(&copy, "charts");
}

/// How the release reaches the registry.
enum Access<'a> {
    /// No transport setting at all (helm's defaults: HTTPS with the system's CAs).
    Defaults,
    PlainHttp,
    PrivateTls {
        ca_file: &'a str,
    },
}

/// How the configuration names the OCI chart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Spelling {
    /// `chart = "oci://host/charts/gitlab-runner"`.
    Reference,
    /// `repository = "oci://host/charts"`, `chart = "gitlab-runner"`.
    RepositoryAndName,
}

fn release_config(
    world: &KubeWorld,
    helm_path: &Path,
    namespace: &str,
    reference: &str,
    access: &Access,
    spelling: Spelling,
) -> String {
    let access = match access {
        Access::Defaults => String::new(),
        Access::PlainHttp => "  repository_plain_http = true\n".to_owned(),
        Access::PrivateTls { ca_file } => format!(
            "  repository_ca_certificate = file(\"${{path.module}}/{ca_file}\")\n  repository_username       = \"{REGISTRY_USER}\"\n  repository_password_wo    = var.registry_password\n"
        ),
    };
    // `oci://host/charts/gitlab-runner` in `chart`, or — as `helm_release` spells it — the
    // registry path in `repository` and the chart name in `chart`: the same source.
    let chart = match reference.strip_suffix("/gitlab-runner") {
        Some(registry) if spelling == Spelling::RepositoryAndName => {
            format!("  repository    = \"{registry}\"\n  chart         = \"gitlab-runner\"\n")
        }
        _ => format!("  chart         = \"{reference}\"\n"),
    };
    let chart_lines = format!("{chart}  chart_version = var.chart_version\n{access}");
    let variables = r#"
variable "chart_version" {
  type    = string
  default = null # unpinned: helm takes the newest stable version
}

variable "registry_password" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}
"#;
    minimal_release_config(world, helm_path, namespace, &chart_lines, "oci-runner") + variables
}

/// Manifest pulls of `tag` the registry answered with 200.
fn manifest_pulls(registry: &TestRegistry, tag: &str) -> usize {
    let path = format!("/v2/{REPOSITORY}/manifests/{tag}");
    registry
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path && r.status == 200)
        .count()
}

fn installed_chart(world: &KubeWorld, namespace: &str) -> String {
    let deployment = world
        .get_json("deployment", namespace, RELEASE)
        .unwrap_or_else(|| panic!("no Deployment {namespace}/{RELEASE}"));
    deployment["metadata"]["labels"]["chart"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn installs_from_a_plain_http_registry_and_follows_the_pin(
    version: HelmVersion,
    spelling: Spelling,
) {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, version);
    let registry = TestRegistry::start(Options::default()).expect("OCI registry");
    publish_charts(&registry, &helm_path, false);
    let namespace = world.create_namespace("oci");

    let mut dir = workdir(&world);
    let reference = registry.oci_url(REPOSITORY);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            &reference,
            &Access::PlainHttp,
            spelling,
        ),
    );
    dir.set_env("TF_VAR_chart_version", FIXTURE_VERSION);
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    let expected_chart = match spelling {
        Spelling::Reference => reference.as_str(),
        Spelling::RepositoryAndName => "gitlab-runner",
    };
    assert_eq!(release_attr(&dir, "chart"), expected_chart);
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert!(
        manifest_pulls(&registry, FIXTURE_VERSION) >= 1,
        "helm did not pull {FIXTURE_VERSION} from the registry: {:?}",
        registry.requests()
    );
    assert!(
        installed_chart(&world, &namespace).ends_with(FIXTURE_VERSION),
        "{}",
        installed_chart(&world, &namespace)
    );
    // Refresh reads the release natively: no registry traffic, nothing to do.
    let before = registry.requests().len();
    dir.plan().expect_code(0);
    assert_eq!(
        registry.requests().len(),
        before,
        "a plan contacted the registry"
    );

    // A new pin is an in-place update pulled from the registry.
    dir.set_env("TF_VAR_chart_version", NEXT_VERSION);
    let plan = dir.plan();
    plan.expect_code(2);
    let change = format!("\"{FIXTURE_VERSION}\" -> \"{NEXT_VERSION}\"");
    assert!(
        plan.stdout
            .lines()
            .any(|line| line.contains("chart_version") && line.contains(&change)),
        "the plan shows no chart_version {change}: {plan:?}"
    );
    assert!(
        plan.stdout.contains("1 to change"),
        "an in-place update: {plan:?}"
    );
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), NEXT_VERSION);
    assert!(manifest_pulls(&registry, NEXT_VERSION) >= 1);
    assert!(installed_chart(&world, &namespace).ends_with(NEXT_VERSION));
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

#[test]
fn helm4_installs_from_a_plain_http_oci_registry_and_follows_the_pin() {
    installs_from_a_plain_http_registry_and_follows_the_pin(HelmVersion::Four, Spelling::Reference);
}

#[test]
fn helm3_installs_from_a_plain_http_oci_registry_and_follows_the_pin() {
    installs_from_a_plain_http_registry_and_follows_the_pin(
        HelmVersion::Three,
        Spelling::RepositoryAndName,
    );
}

fn private_registry() -> TestRegistry {
    TestRegistry::start(Options {
        tls: true,
        auth: Auth::Bearer {
            username: REGISTRY_USER.into(),
            password: REGISTRY_PASSWORD.into(),
            anonymous_pull: false,
        },
        ..Options::default()
    })
    .expect("OCI registry")
}

/// Writes the registry's CA next to the configuration and publishes the charts over TLS.
fn prepare_private_registry(
    registry: &TestRegistry,
    helm_path: &Path,
    dir: &acceptance::TerraformWorkdir,
) {
    dir.write(
        "registry-ca.pem",
        registry.ca_pem().expect("a TLS registry has a CA"),
    );
    publish_charts(registry, helm_path, true);
}

#[test]
fn installs_from_a_private_tls_registry_with_a_write_only_password() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let registry = private_registry();
    let namespace = world.create_namespace("oci-tls");
    let mut dir = workdir(&world);
    prepare_private_registry(&registry, &helm_path, &dir);
    let reference = registry.oci_url(REPOSITORY);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            &reference,
            &Access::PrivateTls {
                ca_file: "registry-ca.pem",
            },
            Spelling::Reference,
        ),
    );
    dir.set_env("TF_LOG", "trace");
    dir.set_env("TF_VAR_chart_version", FIXTURE_VERSION);
    dir.set_env("TF_VAR_registry_password", REGISTRY_PASSWORD);
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert!(installed_chart(&world, &namespace).ends_with(FIXTURE_VERSION));
    // helm authenticated with a bearer token obtained with our credentials.
    let requests = registry.requests();
    assert!(
        requests.iter().any(
            |r| r.path.starts_with(&format!("/v2/{REPOSITORY}/manifests/"))
                && r.status == 200
                && r.auth == AuthKind::Bearer
        ),
        "no authenticated manifest pull: {requests:?}"
    );
    dir.plan().expect_code(0);

    // The password is nowhere: not in state, not in the trace log, not in helm's release record.
    assert!(release_attr(&dir, "repository_password_wo").is_null());
    assert!(
        !dir.state_raw().contains(REGISTRY_PASSWORD),
        "password in state"
    );
    let log = dir.log();
    assert!(log.contains("gitlabrunner"), "the trace log is empty");
    assert!(!log.contains(REGISTRY_PASSWORD), "password in TF_LOG=trace");
    let release_secrets = world.kubectl(&[
        "get",
        "secrets",
        "-n",
        &namespace,
        "-l",
        "owner=helm",
        "-o",
        "json",
    ]);
    ok(&release_secrets, "kubectl get helm release secrets");
    let listing = String::from_utf8_lossy(&release_secrets.stdout);
    assert!(listing.contains("sh.helm.release.v1"), "{listing}");
    assert!(
        !listing.contains(REGISTRY_PASSWORD),
        "password in the release Secret"
    );

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

#[test]
fn a_wrong_registry_password_fails_cleanly_and_leaves_nothing_behind() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Three);
    let registry = private_registry();
    let namespace = world.create_namespace("oci-denied");
    let mut dir = workdir(&world);
    prepare_private_registry(&registry, &helm_path, &dir);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            &registry.oci_url(REPOSITORY),
            &Access::PrivateTls {
                ca_file: "registry-ca.pem",
            },
            Spelling::Reference,
        ),
    );
    let wrong = "not-the-Registry-pw-91";
    dir.set_env("TF_LOG", "trace");
    dir.set_env("TF_VAR_chart_version", FIXTURE_VERSION);
    dir.set_env("TF_VAR_registry_password", wrong);
    let run = dir.apply();
    assert_ne!(run.code, 0, "{run:?}");
    let output = run.output();
    assert!(
        output.contains("Helm Install Failed"),
        "no helm failure diagnostic: {run:?}"
    );
    assert!(
        output.to_lowercase().contains("unauthorized") || output.contains("401"),
        "the diagnostic does not say the registry refused the login: {run:?}"
    );
    assert!(!output.contains(wrong), "password in the diagnostic");
    assert!(!dir.log().contains(wrong), "password in TF_LOG=trace");
    // Nothing was installed, so nothing is in state and nothing is in the cluster.
    assert!(
        dir.resource_attributes("gitlabrunner_release.runner")
            .is_none()
    );
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());

    // The right password then installs it.
    dir.set_env("TF_VAR_registry_password", REGISTRY_PASSWORD);
    dir.apply().success();
    assert!(installed_chart(&world, &namespace).ends_with(FIXTURE_VERSION));
    dir.destroy().success();
}

/// Applies `main.tf` pointing at `registry` with helm's default transport, expecting a failure
/// whose diagnostic names `remedy`, and no release left anywhere.
fn apply_fails_naming(world: &KubeWorld, registry: &TestRegistry, remedy: &str) {
    let helm_path = helm_bin(world, HelmVersion::Four);
    let namespace = world.create_namespace("oci-transport");
    let mut dir = workdir(world);
    dir.write(
        "main.tf",
        &release_config(
            world,
            &helm_path,
            &namespace,
            &registry.oci_url(REPOSITORY),
            &Access::Defaults,
            Spelling::Reference,
        ),
    );
    dir.set_env("TF_VAR_chart_version", FIXTURE_VERSION);
    let run = dir.apply();
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Helm Install Failed"), "{run:?}");
    assert!(
        run.stderr.contains(remedy),
        "the diagnostic does not point at {remedy}: {run:?}"
    );
    assert!(
        dir.resource_attributes("gitlabrunner_release.runner")
            .is_none()
    );
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

#[test]
fn registry_transport_mistakes_name_the_attribute_that_fixes_them() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);

    // A registry signed by a private CA the configuration does not mention.
    let tls = TestRegistry::start(Options {
        tls: true,
        ..Options::default()
    })
    .expect("OCI registry");
    publish_charts(&tls, &helm_path, false);
    apply_fails_naming(&world, &tls, "repository_ca_certificate");

    // A plain-HTTP registry without repository_plain_http.
    let plain = TestRegistry::start(Options::default()).expect("OCI registry");
    publish_charts(&plain, &helm_path, false);
    apply_fails_naming(&world, &plain, "repository_plain_http");
}

#[test]
fn an_unpinned_oci_chart_installs_the_newest_stable_version_and_records_it() {
    const OLDER_STABLE: &str = "0.85.3";
    const NEWEST_STABLE: &str = "0.86.2";
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let registry = TestRegistry::start(Options::default()).expect("OCI registry");
    let publisher = ChartPublisher::new(&helm_path, &registry);
    publisher.publish(&chart_path(), "charts"); // 0.86.0-fixture: a pre-release, never picked
    publish_version(&publisher, NEWEST_STABLE);
    publish_version(&publisher, OLDER_STABLE);
    let namespace = world.create_namespace("oci-latest");

    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            &registry.oci_url(REPOSITORY),
            &Access::PlainHttp,
            Spelling::Reference,
        ),
    );
    registry.clear_requests();
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), NEWEST_STABLE);
    assert!(installed_chart(&world, &namespace).ends_with(NEWEST_STABLE));
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/v2/{REPOSITORY}/tags/list")),
        "helm listed no tags: {:?}",
        registry.requests()
    );
    assert!(manifest_pulls(&registry, NEWEST_STABLE) >= 1);

    // Unpinned follows the live release: nothing to do, and no registry traffic to find out.
    let before = registry.requests().len();
    dir.plan().expect_code(0);
    assert_eq!(registry.requests().len(), before);
    dir.destroy().success();
}
