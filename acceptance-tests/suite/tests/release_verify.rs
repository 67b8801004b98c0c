//! Issue 15: `verify_runner` — a green apply means a runner GitLab heard from (real terraform +
//! helm 4, the GitLab API test server). A manager that contacts GitLab after the rollout makes
//! the apply succeed; none within `timeout` fails it with what the manager's log says (x509 →
//! `cert_secret_name`); without GitLab access no request is made at all.

mod release_support;

use std::path::Path;
use std::time::{Duration, Instant};

use acceptance::{KubeWorld, unfolded};
use gitlab_test_server::{NewManager, NewRunner, TestServer, TokenSpec};
use kube_test_server::ImageBehaviour;
use release_support::{
    HelmVersion, RELEASE, RUNNER_TOKEN, ReleaseHcl, helm_bin, release_attr, workdir,
};

const ADMIN_TOKEN: &str = "glpat-verify-admin";

struct Gitlab {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    runner_id: u64,
}

fn gitlab() -> Gitlab {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start()).expect("gitlab");
    let admin = server.admin();
    runtime
        .block_on(admin.add_token(&TokenSpec::admin("root", ADMIN_TOKEN)))
        .expect("admin token");
    let runner = runtime
        .block_on(admin.create_runner(&NewRunner {
            token: Some(RUNNER_TOKEN.into()),
            ..NewRunner::default()
        }))
        .expect("runner");
    Gitlab {
        runtime,
        server,
        runner_id: runner.id,
    }
}

fn config(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    gitlab: &Gitlab,
    access: bool,
    extra: &str,
) -> String {
    config_verifying(world, helm, namespace, gitlab, access, true, extra)
}

fn config_verifying(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    gitlab: &Gitlab,
    access: bool,
    verify: bool,
    extra: &str,
) -> String {
    let mut hcl = ReleaseHcl::new(world, helm, namespace)
        .gitlab_url(gitlab.server.url())
        .token_secret(RUNNER_TOKEN);
    if access {
        hcl = hcl.gitlab_block(&format!(
            "  gitlab {{\n    base_url = \"{}\"\n    token    = \"{ADMIN_TOKEN}\"\n  }}\n",
            gitlab.server.url()
        ));
    }
    let lines = format!(
        "  runner {{\n    kubernetes {{\n      image = \"alpine:3.20\"\n    }}\n  }}\n{extra}"
    );
    hcl.verify_runner(verify).lines(&lines).build()
}

/// Whether the release's manager pod is Running and Ready.
fn manager_ready(world: &KubeWorld, namespace: &str) -> bool {
    let out = world.kubectl(&[
        "get",
        "pods",
        "-n",
        namespace,
        "-l",
        &format!("release={RELEASE}"),
        "-o",
        "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    String::from_utf8_lossy(&out.stdout).contains("True")
}

fn managers_reads(gitlab: &Gitlab) -> usize {
    let path = format!("/api/v4/runners/{}/managers", gitlab.runner_id);
    gitlab
        .runtime
        .block_on(gitlab.server.admin().requests())
        .expect("request log")
        .iter()
        .filter(|r| r.path == path)
        .count()
}

#[test]
fn verify_runner_succeeds_once_a_manager_contacts_gitlab_after_the_rollout_with_helm_4() {
    verify_runner_succeeds_once_a_manager_contacts_gitlab_after_the_rollout(HelmVersion::Four);
}

#[test]
fn verify_runner_succeeds_once_a_manager_contacts_gitlab_after_the_rollout_with_helm_3() {
    verify_runner_succeeds_once_a_manager_contacts_gitlab_after_the_rollout(HelmVersion::Three);
}

fn verify_runner_succeeds_once_a_manager_contacts_gitlab_after_the_rollout(version: HelmVersion) {
    let world = KubeWorld::start();
    let helm = helm_bin(&world, version);
    let gitlab = gitlab();
    let namespace = world.create_namespace("verify");
    let mut dir = workdir(&world);
    dir.set_env("GITLAB_TOKEN", "");
    dir.set_env("GITLAB_BASE_URL", "");
    dir.write(
        "main.tf",
        &config(&world, &helm, &namespace, &gitlab, true, "  timeout = 120"),
    );
    // The runner's manager contacts GitLab once its pod runs (the test world's pods run no
    // runner: the test makes the contact, as `gitlab-runner run` would with its system id).
    let run = std::thread::scope(|scope| {
        let apply = scope.spawn(|| dir.apply());
        let started = Instant::now();
        while !manager_ready(&world, &namespace) {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "no manager pod"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(2));
        gitlab
            .runtime
            .block_on(
                gitlab
                    .server
                    .admin()
                    .add_manager(gitlab.runner_id, &NewManager::online("r_0123456789ab")),
            )
            .expect("manager contact");
        apply.join().expect("apply thread")
    });
    run.success();
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert!(managers_reads(&gitlab) >= 1, "GitLab was asked");
}

#[test]
fn verify_runner_fails_with_the_managers_reason_when_no_manager_contacts_gitlab_with_helm_4() {
    verify_runner_fails_with_the_managers_reason_when_no_manager_contacts_gitlab(HelmVersion::Four);
}

#[test]
fn verify_runner_fails_with_the_managers_reason_when_no_manager_contacts_gitlab_with_helm_3() {
    verify_runner_fails_with_the_managers_reason_when_no_manager_contacts_gitlab(
        HelmVersion::Three,
    );
}

fn verify_runner_fails_with_the_managers_reason_when_no_manager_contacts_gitlab(
    version: HelmVersion,
) {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(world, "a manager image that logs an x509 error");
    let helm = helm_bin(&world, version);
    let gitlab = gitlab();
    let namespace = world.create_namespace("noverify");
    let image = "registry.example.com/gitlab-runner:x509";
    admin
        .set_image(
            image,
            &ImageBehaviour::Runs {
                logs: vec![
                    "Runtime platform  arch=amd64 os=linux".into(),
                    "ERROR: Verifying runner... failed  error=tls: failed to verify certificate: x509: certificate signed by unknown authority".into(),
                ],
            },
        )
        .expect("set image");
    let mut dir = workdir(&world);
    dir.set_env("GITLAB_TOKEN", "");
    dir.set_env("GITLAB_BASE_URL", "");
    let extra = "  timeout = 15\n  image {\n    registry = \"registry.example.com\"\n    image    = \"gitlab-runner\"\n    tag      = \"x509\"\n  }";
    dir.write(
        "main.tf",
        &config(&world, &helm, &namespace, &gitlab, true, extra),
    );
    let run = dir.apply();
    run.expect_code(1);
    let stderr = unfolded(&run.stderr);
    assert!(stderr.contains("Runner Not Verified In GitLab"), "{run:?}");
    assert!(stderr.contains("cert_secret_name"), "{run:?}");
    assert!(
        stderr.contains("x509: certificate signed by unknown authority"),
        "{run:?}"
    );
    assert!(managers_reads(&gitlab) >= 1);
    // Recorded: the release is in state, so the next apply checks again instead of failing
    // with "already exists".
    assert_eq!(release_attr(&dir, "status"), "deployed");
}

#[test]
fn without_gitlab_access_verify_runner_makes_no_request() {
    let world = KubeWorld::start();
    let gitlab = gitlab();
    let namespace = world.create_namespace("noaccess");
    let mut dir = workdir(&world);
    dir.set_env("GITLAB_TOKEN", "");
    dir.set_env("GITLAB_BASE_URL", "");
    dir.write(
        "main.tf",
        &config(
            &world,
            &world.tools().helm4,
            &namespace,
            &gitlab,
            false,
            "  timeout = 60",
        ),
    );
    dir.apply().success();
    dir.plan().expect_code(0);
    let requests = gitlab
        .runtime
        .block_on(gitlab.server.admin().requests())
        .expect("request log");
    assert!(requests.is_empty(), "GitLab was asked: {requests:?}");
}

/// Whether GitLab has the runner paused, as the test server's admin surface reports it.
fn paused_in_gitlab(gitlab: &Gitlab) -> bool {
    gitlab
        .runtime
        .block_on(gitlab.server.admin().runner(gitlab.runner_id))
        .expect("runner")
        .expect("the runner exists")
        .paused
}

#[test]
fn a_runner_paused_by_hand_is_drift_that_apply_unpauses() {
    let world = KubeWorld::start();
    let gitlab = gitlab();
    let namespace = world.create_namespace("paused");
    let mut dir = workdir(&world);
    dir.set_env("GITLAB_TOKEN", "");
    dir.set_env("GITLAB_BASE_URL", "");
    dir.write(
        "main.tf",
        &config_verifying(
            &world,
            &world.tools().helm4,
            &namespace,
            &gitlab,
            true,
            false,
            "  timeout = 60",
        ),
    );
    dir.apply().success();
    dir.plan().expect_code(0);
    let refreshed = dir.apply();
    refreshed.success();
    assert_eq!(release_attr(&dir, "runner_paused"), false);
    assert_eq!(release_attr(&dir, "runner_status"), "never_contacted");
    assert_eq!(release_attr(&dir, "online_managers"), 0);

    // Someone pauses the runner in GitLab's UI.
    let client = gitlab_runner_api::GitlabClient::new(gitlab_runner_api::ClientConfig::new(
        gitlab.server.url(),
        gitlab_runner_api::SecretString::from(ADMIN_TOKEN.to_owned()),
    ))
    .expect("client");
    gitlab
        .runtime
        .block_on(client.set_paused(gitlab.runner_id, true))
        .expect("pause by hand");
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("runner_paused"), "{plan:?}");
    dir.apply().success();
    assert!(!paused_in_gitlab(&gitlab), "the apply unpaused it");
    assert_eq!(release_attr(&dir, "runner_paused"), false);
    dir.plan().expect_code(0);

    // Deleted in GitLab: refresh says a new token is needed.
    gitlab
        .runtime
        .block_on(gitlab.server.admin().delete_runner(gitlab.runner_id))
        .expect("delete by hand");
    let plan = dir.plan();
    let output = plan
        .output()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(output.contains("Runner Deleted In GitLab"), "{plan:?}");
    assert!(output.contains("new runner"), "{plan:?}");
}
