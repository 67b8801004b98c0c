//! Issue 15: a rollout that cannot finish fails the apply in seconds with the cluster's reason
//! (real terraform + helm 4 and 3), not after `timeout`: a missing ServiceAccount, an image that
//! cannot be pulled, a crash loop (its log lines quoted, runner tokens redacted). The release is
//! recorded as failed and the next apply repairs it.

mod release_support;

use std::time::{Duration, Instant};

use acceptance::{KubeWorld, unfolded};
use kube_test_server::ImageBehaviour;
use release_support::{
    HelmVersion, RUNNER_TOKEN, chart_path, helm_bin, minimal_release_config, release_attr, workdir,
};

/// Far longer than any of these applies may take: failing fast means failing well before it.
const TIMEOUT_SECONDS: u64 = 300;
/// What "in seconds" means here (terraform and helm start-up included, on a busy machine).
const FAST: Duration = Duration::from_secs(60);

fn config(world: &KubeWorld, helm: &std::path::Path, namespace: &str, extra: &str) -> String {
    let chart_lines = format!("  chart = \"{}\"\n{extra}", chart_path().display());
    minimal_release_config(world, helm, namespace, &chart_lines, "fail-fast")
        .replace("timeout = 120", &format!("timeout = {TIMEOUT_SECONDS}"))
}

fn missing_service_account_fails_in_seconds(version: HelmVersion) {
    let world = KubeWorld::start();
    let helm = helm_bin(&world, version);
    let namespace = world.create_namespace("nosa");
    let dir = workdir(&world);
    let account = "service_account {\n    create = false\n    name   = \"builder\"\n  }\n";
    dir.write("main.tf", &config(&world, &helm, &namespace, account));

    let started = Instant::now();
    let run = dir.apply();
    let took = started.elapsed();
    run.expect_code(1);
    let stderr = unfolded(&run.stderr);
    assert!(
        stderr.contains("Manager Pod Refused: ServiceAccount Missing"),
        "{run:?}"
    );
    assert!(
        stderr.contains("serviceaccount \"builder\" not found"),
        "{run:?}"
    );
    assert!(stderr.contains("service_account"), "{run:?}");
    assert!(
        took < FAST,
        "failed after {took:?}, not in seconds (timeout {TIMEOUT_SECONDS} s)"
    );
    // Recorded as failed: the next apply repairs it once the account exists.
    assert_eq!(
        release_attr(&dir, "status"),
        "failed",
        "{}",
        dir.state_raw()
    );
    world.kubectl_ok(&["create", "serviceaccount", "builder", "-n", &namespace]);
    dir.apply().success();
    assert_eq!(release_attr(&dir, "status"), "deployed");
    dir.destroy().success();
}

#[test]
fn missing_service_account_fails_in_seconds_with_helm_4() {
    missing_service_account_fails_in_seconds(HelmVersion::Four);
}

#[test]
fn missing_service_account_fails_in_seconds_with_helm_3() {
    missing_service_account_fails_in_seconds(HelmVersion::Three);
}

fn image_pull_failure_fails_in_seconds(version: HelmVersion) {
    let world = KubeWorld::start();
    let helm = helm_bin(&world, version);
    let namespace = world.create_namespace("pull");
    let tag = "does-not-exist-fail-fast";
    // On a real cluster the registry says not found by itself. A kube-test-server reached
    // without its admin surface (`test-real-cluster.sh --self-test`) runs every image.
    match world.admin() {
        Some(admin) => admin
            .set_image(
                &format!("registry.k8s.io/pause:{tag}"),
                &ImageBehaviour::PullFails,
            )
            .expect("set image"),
        None if world.is_kube_test_server() => acceptance::skip!(
            "the kube-test-server runs every image; only its admin surface (absent in \
             real-cluster mode) can make a pull fail"
        ),
        None => {}
    }
    let dir = workdir(&world);
    let image = format!(
        "image {{\n    registry = \"registry.k8s.io\"\n    image    = \"pause\"\n    tag      = \"{tag}\"\n  }}\n"
    );
    dir.write("main.tf", &config(&world, &helm, &namespace, &image));
    let started = Instant::now();
    let run = dir.apply();
    let took = started.elapsed();
    run.expect_code(1);
    assert!(
        run.stderr.contains("Manager Image Cannot Be Pulled"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(&format!("registry.k8s.io/pause:{tag}")),
        "{run:?}"
    );
    assert!(run.stderr.contains("image_pull_secrets"), "{run:?}");
    assert!(took < FAST, "failed after {took:?}");
    assert_eq!(release_attr(&dir, "status"), "failed");
}

#[test]
fn image_pull_failure_fails_in_seconds_with_helm_4() {
    image_pull_failure_fails_in_seconds(HelmVersion::Four);
}

#[test]
fn image_pull_failure_fails_in_seconds_with_helm_3() {
    image_pull_failure_fails_in_seconds(HelmVersion::Three);
}

#[test]
fn crash_loop_quotes_the_managers_last_lines_with_tokens_redacted_with_helm_4() {
    crash_loop_quotes_the_managers_last_lines_with_tokens_redacted(HelmVersion::Four);
}

#[test]
fn crash_loop_quotes_the_managers_last_lines_with_tokens_redacted_with_helm_3() {
    crash_loop_quotes_the_managers_last_lines_with_tokens_redacted(HelmVersion::Three);
}

fn crash_loop_quotes_the_managers_last_lines_with_tokens_redacted(version: HelmVersion) {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(world, "an image that crashes with given log lines");
    let helm = helm_bin(&world, version);
    let namespace = world.create_namespace("crash");
    let image = "registry.example.com/gitlab-runner:crashes";
    admin
        .set_image(
            image,
            &ImageBehaviour::Crashes {
                logs: vec![
                    "Runtime platform  arch=amd64 os=linux".into(),
                    format!("ERROR: Verifying runner... is removed  runner={RUNNER_TOKEN} status=403 Forbidden"),
                    "FATAL: failed to verify runner".into(),
                ],
                exit_code: 1,
            },
        )
        .expect("set image");
    let dir = workdir(&world);
    let block = "image {\n    registry = \"registry.example.com\"\n    image    = \"gitlab-runner\"\n    tag      = \"crashes\"\n  }\n";
    dir.write("main.tf", &config(&world, &helm, &namespace, block));
    let started = Instant::now();
    let run = dir.apply();
    let took = started.elapsed();
    run.expect_code(1);
    let output = unfolded(&run.output());
    assert!(run.stderr.contains("Manager Crash Loop"), "{run:?}");
    assert!(output.contains("FATAL: failed to verify runner"), "{run:?}");
    assert!(
        output.contains("is removed runner=glrt-[REDACTED] status=403"),
        "{run:?}"
    );
    assert!(!output.contains(RUNNER_TOKEN), "the token leaked: {run:?}");
    let release = dir
        .resource_attributes("gitlabrunner_release.runner")
        .expect("release in state");
    assert!(!release.to_string().contains(RUNNER_TOKEN));
    assert!(took < FAST, "failed after {took:?}");
    assert_eq!(release_attr(&dir, "status"), "failed");
}

#[test]
fn a_slow_but_progressing_rollout_still_succeeds() {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(world, "a pod start delay");
    admin
        .set_timing(Some(Duration::from_secs(6)), None)
        .expect("slow pods");
    let helm = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("slow");
    let dir = workdir(&world);
    dir.write("main.tf", &config(&world, &helm, &namespace, ""));
    dir.apply().success();
    assert_eq!(release_attr(&dir, "status"), "deployed");
}
