//! Where a `gitlabrunner_release` chart comes from, end to end with real terraform and real helm 4:
//! a chart version changed by hand (helm upgrade from a copy of the chart with another version)
//! is planned and repaired, and a release installs from a chart repository made with real
//! `helm package` and `helm repo index` — over plain HTTP, and over TLS with a private CA behind
//! Basic authentication (helm 3, `repo add` with the password on stdin).

mod release_support;

use std::path::Path;

use acceptance::KubeWorld;
use acceptance::chart_repository::{ChartRepository, RepositoryOptions};
use release_support::{
    HelmVersion, chart_path, copy_tree, helm, helm_bin, minimal_release_config, ok, release_attr,
    workdir,
};

const RELEASE: &str = "gitlab-runner";
const FIXTURE_VERSION: &str = "0.86.0-fixture";
const HAND_VERSION: &str = "0.86.1-fixture";

/// Where the release's chart comes from in the configuration.
enum Source<'a> {
    LocalPath(&'a Path),
    /// The repository URL and extra attribute lines (TLS, credentials).
    Repository(&'a str, &'a str),
}

/// A minimal release (with its token Secret) pinned to `chart_version`.
fn release_config(world: &KubeWorld, helm_path: &Path, namespace: &str, source: Source) -> String {
    let chart = match source {
        Source::LocalPath(path) => format!("  chart = \"{}\"\n", path.display()),
        Source::Repository(url, access) => {
            format!("  repository = \"{url}\"\n  chart      = \"gitlab-runner\"\n{access}")
        }
    };
    let chart_lines = format!("{chart}  chart_version = \"{FIXTURE_VERSION}\"\n");
    minimal_release_config(world, helm_path, namespace, &chart_lines, "sources-runner")
}

/// The `helm list -o json` entry of the release.
fn listed_release(world: &KubeWorld, helm_path: &Path, namespace: &str) -> serde_json::Value {
    let kubeconfig = world.kubeconfig().to_str().expect("utf-8 kubeconfig path");
    let out = helm(
        world,
        helm_path,
        &[
            "list",
            "-n",
            namespace,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    ok(&out, "helm list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("helm list JSON");
    list.as_array()
        .and_then(|releases| releases.iter().find(|r| r["name"] == RELEASE))
        .cloned()
        .unwrap_or_else(|| panic!("{RELEASE} not in helm list: {list}"))
}

#[test]
fn chart_version_changed_by_hand_is_planned_and_repaired() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("src");
    let dir = workdir(&world);
    let fixture = chart_path();
    dir.write(
        "main.tf",
        &release_config(&world, &helm_path, &namespace, Source::LocalPath(&fixture)),
    );
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    // A copy of the chart with another version, upgraded to by hand.
    let scratch = tempfile::tempdir().expect("temp dir");
    let copied = scratch.path().join("gitlab-runner");
    copy_tree(&fixture, &copied);
    let chart_yaml = copied.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("Chart.yaml");
    let version_line = format!("version: {FIXTURE_VERSION}");
    assert!(
        text.lines().any(|line| line.trim() == version_line),
        "fixture Chart.yaml has no `{version_line}` line:\n{text}"
    );
    let edited: String = text
        .lines()
        .map(|line| {
            if line.trim() == version_line {
                format!("version: {HAND_VERSION}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&chart_yaml, edited).expect("write Chart.yaml");

    let kubeconfig = world.kubeconfig().to_str().expect("utf-8 kubeconfig path");
    let out = helm(
        &world,
        &helm_path,
        &[
            "upgrade",
            RELEASE,
            copied.to_str().expect("utf-8 path"),
            "--reuse-values",
            "-n",
            &namespace,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    ok(&out, "helm upgrade to the hand-edited chart");
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{HAND_VERSION}")
    );

    let plan = dir.plan();
    plan.expect_code(2);
    let expected_change = format!("\"{HAND_VERSION}\" -> \"{FIXTURE_VERSION}\"");
    assert!(
        plan.stdout
            .lines()
            .any(|line| line.contains("chart_version") && line.contains(&expected_change)),
        "the plan shows no chart_version {expected_change}: {plan:?}"
    );

    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

/// A chart repository made with real helm (`helm package` + `helm repo index`) in `dir`, served
/// by the test's chart repository server.
fn chart_repository(
    world: &KubeWorld,
    helm_path: &Path,
    dir: &Path,
    options: RepositoryOptions,
) -> ChartRepository {
    let dir_arg = dir.to_str().expect("utf-8 repo dir");
    let out = helm(
        world,
        helm_path,
        &[
            "package",
            chart_path().to_str().expect("utf-8 chart path"),
            "-d",
            dir_arg,
        ],
    );
    ok(&out, "helm package");
    assert!(
        dir.join(format!("gitlab-runner-{FIXTURE_VERSION}.tgz"))
            .is_file(),
        "helm package wrote no gitlab-runner-{FIXTURE_VERSION}.tgz"
    );
    // Start first so the index can name the real port.
    let repository = ChartRepository::start(dir, options);
    let url = repository.url().to_owned();
    let out = helm(world, helm_path, &["repo", "index", dir_arg, "--url", &url]);
    ok(&out, "helm repo index");
    let index = std::fs::read_to_string(dir.join("index.yaml")).expect("index.yaml");
    assert!(
        index.contains(&format!("{url}/gitlab-runner-{FIXTURE_VERSION}.tgz")),
        "{index}"
    );
    repository
}

#[test]
fn release_installs_from_a_chart_repository() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("repo");
    let repo = tempfile::tempdir().expect("repo dir");
    let server = chart_repository(
        &world,
        &helm_path,
        repo.path(),
        RepositoryOptions::default(),
    );

    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            Source::Repository(server.url(), ""),
        ),
    );
    dir.apply().success();
    let archive = format!("gitlab-runner-{FIXTURE_VERSION}.tgz");
    assert!(
        server.served().contains(&archive),
        "helm did not fetch {archive} from the repository: {:?}",
        server.served()
    );
    assert!(
        world.get_json("deployment", &namespace, RELEASE).is_some(),
        "the chart's Deployment exists"
    );
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

#[test]
fn release_installs_from_a_private_tls_chart_repository_with_credentials() {
    const USER: &str = "chart-reader";
    const PASSWORD: &str = "repo-Basic-pw-5e8c";
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Three);
    let namespace = world.create_namespace("repo-tls");
    let repo = tempfile::tempdir().expect("repo dir");
    let server = chart_repository(
        &world,
        &helm_path,
        repo.path(),
        RepositoryOptions {
            tls: true,
            basic_auth: Some((USER.into(), PASSWORD.into())),
        },
    );
    assert!(server.url().starts_with("https://"));

    let mut dir = workdir(&world);
    dir.write("repository-ca.pem", server.ca_pem().expect("CA"));
    let access = format!(
        "  repository_ca_certificate = file(\"${{path.module}}/repository-ca.pem\")\n  repository_username       = \"{USER}\"\n  repository_password       = var.repository_password\n"
    );
    dir.write(
        "main.tf",
        &format!(
            "{}\nvariable \"repository_password\" {{\n  type      = string\n  sensitive = true\n}}\n",
            release_config(
                &world,
                &helm_path,
                &namespace,
                Source::Repository(server.url(), &access),
            )
        ),
    );
    dir.set_env("TF_LOG", "trace");
    dir.set_env("TF_VAR_repository_password", PASSWORD);
    let apply = dir.apply();
    apply.success();
    assert!(
        !apply.output().contains(PASSWORD),
        "password in the apply output"
    );

    // helm fetched the index and the archive, authenticated, over TLS it verified with our CA.
    let archive = format!("gitlab-runner-{FIXTURE_VERSION}.tgz");
    let requests = server.requests();
    for name in ["index.yaml", archive.as_str()] {
        assert!(
            requests
                .iter()
                .any(|r| r.name == name && r.status == 200 && r.basic_auth),
            "{name} was not fetched with credentials: {requests:?}"
        );
    }
    assert!(
        requests.iter().all(|r| r.status != 401 || !r.basic_auth),
        "the credentials were refused: {requests:?}"
    );
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert!(world.get_json("deployment", &namespace, RELEASE).is_some());

    // Sensitive: never printed, never logged, never in helm's release record.
    let plan = dir.plan();
    plan.expect_code(0);
    assert!(
        !plan.output().contains(PASSWORD),
        "password in the plan output"
    );
    assert!(!dir.log().contains(PASSWORD), "password in TF_LOG=trace");
    let secrets = world.kubectl(&[
        "get",
        "secrets",
        "-n",
        &namespace,
        "-l",
        "owner=helm",
        "-o",
        "json",
    ]);
    ok(&secrets, "kubectl get helm release secrets");
    assert!(
        !String::from_utf8_lossy(&secrets.stdout).contains(PASSWORD),
        "password in the release Secret"
    );

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

#[test]
fn state_from_an_older_provider_release_plans_no_change() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("upgrade");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm_path,
            &namespace,
            Source::LocalPath(&chart_path()),
        ),
    );
    dir.apply().success();

    // What a state written by an older release looks like: attributes (with defaults) and blocks
    // added since are simply not there.
    let added = [
        "repository_ca_certificate",
        "repository_insecure_skip_tls_verify",
        "repository_plain_http",
        "repository_password_wo",
        "toleration",
        "timeouts",
    ];
    let mut state = dir.state();
    let instance = state["resources"]
        .as_array_mut()
        .and_then(|resources| {
            resources
                .iter_mut()
                .find(|r| r["type"] == "gitlabrunner_release")
        })
        .map(|release| &mut release["instances"][0]["attributes"])
        .and_then(serde_json::Value::as_object_mut)
        .expect("release attributes in state");
    for name in added {
        assert!(instance.remove(name).is_some(), "{name} not in state");
    }
    dir.write(
        "terraform.tfstate",
        &serde_json::to_string_pretty(&state).expect("state JSON"),
    );

    let plan = dir.plan();
    plan.expect_code(0);
    assert!(
        !plan.stdout.contains("repository_plain_http"),
        "an upgrade shows as a change: {plan:?}"
    );
    dir.destroy().success();
}
