#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

//! Interrupted applies of `gitlabrunner_release` must not lose track (issue 11, items 6–8), with
//! real terraform and helm 4 against the Kubernetes API test server (and the GitLab API test
//! server for `drain_on_update`):
//!
//! - a create whose read-back fails for a while still records the release; one that cannot read
//!   it back at all records it with status `unknown` (tainted), and the next apply repairs it;
//! - a release someone else installs under the same name during our create is not recorded as
//!   ours (so it is never uninstalled as a tainted instance);
//! - a `drain_on_update` upgrade that is interrupted resumes the runner within its own grace
//!   period, and a runner it still cannot resume is remembered and resumed by the next apply.
//!
//! Every test here orders events with the test servers' fault injection (latency on one request
//! to hold helm at a known step), so each needs the admin surface: against a real cluster they
//! print that they are skipped.

mod release_support;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use acceptance::{KubeWorld, TerraformWorkdir, unfolded};
use gitlab_test_server::{FaultRule, NewRunner, TestServer, TokenSpec};
use kube_test_server::{AdminClient, Fault, FaultAction};
use release_support::{
    HelmVersion, RELEASE, ReleaseHcl, SMALL_RUNNER, chart_path, helm, helm_bin, ok, release_attr,
    small_release_config, workdir,
};

fn release_config(world: &KubeWorld, namespace: &str, extra: &str) -> String {
    small_release_config(world, &helm_bin(world, HelmVersion::Four), namespace, extra)
}

/// Polls `done` every 20 ms until it holds; panics after `limit`.
#[track_caller]
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn status_fault(method: &str, path: String, count: u32, code: u16) -> Fault {
    Fault {
        user_agent: None,
        method: Some(method.into()),
        path,
        count,
        action: FaultAction::Status {
            code,
            message: Some("etcdserver: request timed out".into()),
        },
    }
}

fn latency_fault(method: &str, path: String, count: u32, ms: u64) -> Fault {
    Fault {
        user_agent: None,
        method: Some(method.into()),
        path,
        count,
        action: FaultAction::Latency { ms },
    }
}

/// The fault, for helm's requests only.
fn helm_only(fault: Fault) -> Fault {
    Fault {
        user_agent: Some("helm".into()),
        ..fault
    }
}

/// Holds helm's last step of an install (marking revision 1 `deployed`) for a few seconds; once
/// it is reached, the provider's read-back is the next list of the release Secrets.
fn hold_the_final_release_write(admin: &AdminClient, namespace: &str) {
    admin
        .inject_fault(&latency_fault(
            "PUT",
            format!("/api/v1/namespaces/{namespace}/secrets/sh.helm.release.v1.{RELEASE}.v1"),
            1,
            3_000,
        ))
        .unwrap();
}

fn release_list_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/secrets")
}

#[test]
fn a_create_whose_read_back_fails_three_times_still_records_the_release() {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(
        world,
        "500s injected right after helm, to fail the read-back"
    );
    let namespace = world.create_namespace("readback");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let dir = workdir(&world);
    dir.write("main.tf", &release_config(&world, &namespace, ""));
    hold_the_final_release_write(&admin, &namespace);

    let run = thread::scope(|scope| {
        let apply = scope.spawn(|| dir.apply());
        wait_until(
            "helm to mark the release deployed",
            Duration::from_secs(60),
            || admin.faults().unwrap().is_empty(),
        );
        // Three 500s within a second, right after helm succeeded.
        admin
            .inject_fault(&status_fault("GET", release_list_path(&namespace), 3, 500))
            .unwrap();
        apply.join().unwrap()
    });
    run.success();
    assert!(
        admin.faults().unwrap().is_empty(),
        "the read-back met all three faults"
    );
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert_eq!(release_attr(&dir, "revision"), 1);
    dir.plan().expect_code(0);
    dir.destroy().success();
}

#[test]
fn a_create_that_cannot_read_the_release_back_records_it_tainted_and_the_next_apply_repairs_it() {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(
        world,
        "500s injected right after helm, to fail the read-back"
    );
    let namespace = world.create_namespace("unread");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &namespace,
            "  timeouts {\n    create = \"20s\"\n  }",
        ),
    );
    hold_the_final_release_write(&admin, &namespace);

    let started = Instant::now();
    let run = thread::scope(|scope| {
        let apply = scope.spawn(|| dir.apply());
        wait_until(
            "helm to mark the release deployed",
            Duration::from_secs(60),
            || admin.faults().unwrap().is_empty(),
        );
        // The API server fails every release read from now on.
        admin
            .inject_fault(&status_fault(
                "GET",
                release_list_path(&namespace),
                100_000,
                500,
            ))
            .unwrap();
        apply.join().unwrap()
    });
    run.expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the create timeout and a short grace: {:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("Cannot Read Helm Release"), "{run:?}");
    assert!(
        run.output()
            .contains("Release Recorded With Unknown Status"),
        "{run:?}"
    );
    // Recorded, not lost: its id is in state, status unknown, tainted.
    assert_eq!(release_attr(&dir, "id"), format!("{namespace}/{RELEASE}"));
    assert_eq!(release_attr(&dir, "status"), "unknown");
    assert!(
        dir.state_raw().contains("\"status\": \"tainted\""),
        "{}",
        dir.state_raw()
    );

    // The API server recovers: the next plan reads the release and replaces it.
    admin.clear_faults().unwrap();
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("must be replaced") || plan.stdout.contains("tainted"),
        "{plan:?}"
    );
    let repaired = dir.apply();
    repaired.success();
    assert!(
        !repaired.output().contains("already exists"),
        "{repaired:?}"
    );
    assert_eq!(release_attr(&dir, "status"), "deployed");
    dir.plan().expect_code(0);
    dir.destroy().success();
}

/// Where the other install overtakes ours.
#[derive(Clone, Copy)]
enum Race {
    /// Between our check and helm's history check: `helm upgrade --install` upgrades it.
    BeforeHelmsHistoryCheck,
    /// Between helm's history check and its install's name check ("cannot reuse a name").
    AtTheNameCheck,
    /// Between the name check and helm creating the release Secret ("release: already exists").
    AtTheRecordCreate,
}

fn a_release_installed_by_someone_else_is_not_taken_over(race: Race) {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(
        world,
        "latency injected to let another install overtake ours"
    );
    let helm4 = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("race");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let dir = workdir(&world);
    dir.write("main.tf", &release_config(&world, &namespace, ""));
    match race {
        // Only helm's requests are held (`User-Agent: Helm/…`): the provider lists the same
        // release Secrets too (its name check, and the rollout watch that starts beside helm),
        // in an order that is not fixed.
        Race::BeforeHelmsHistoryCheck => {
            // helm's first release-Secret list (its history check) — held.
            admin
                .inject_fault(&helm_only(latency_fault(
                    "GET",
                    release_list_path(&namespace),
                    1,
                    8_000,
                )))
                .unwrap();
        }
        Race::AtTheNameCheck => {
            // helm's history check, then the install's name check — held for 8 s, while
            // someone else installs the same name.
            admin
                .inject_fault(&helm_only(latency_fault(
                    "GET",
                    release_list_path(&namespace),
                    1,
                    1,
                )))
                .unwrap();
            admin
                .inject_fault(&helm_only(latency_fault(
                    "GET",
                    release_list_path(&namespace),
                    1,
                    8_000,
                )))
                .unwrap();
        }
        Race::AtTheRecordCreate => {
            // helm's create of the release Secret (revision 1, pending-install) is held.
            admin
                .inject_fault(&latency_fault(
                    "POST",
                    release_list_path(&namespace),
                    1,
                    8_000,
                ))
                .unwrap();
        }
    }

    let run = thread::scope(|scope| {
        let apply = scope.spawn(|| dir.apply());
        wait_until(
            "helm to reach the held request",
            Duration::from_secs(60),
            || admin.faults().unwrap().is_empty(),
        );
        let chart = chart_path();
        let foreign = helm(
            &world,
            &helm4,
            &[
                "install",
                RELEASE,
                chart.to_str().unwrap(),
                "-n",
                &namespace,
                "--set",
                "gitlabUrl=https://gitlab.example.com",
                "--set",
                "runners.secret=runner-token",
            ],
        );
        ok(&foreign, "the other team's helm install");
        apply.join().unwrap()
    });
    run.expect_code(1);
    let said = unfolded(&run.stderr);
    assert!(said.contains("Helm Release Already Exists"), "{run:?}");
    assert!(said.contains("terraform import"), "{run:?}");
    assert!(said.contains("installed by someone else"), "{run:?}");
    assert!(
        dir.resource_attributes("gitlabrunner_release.runner")
            .is_none(),
        "nothing recorded: {}",
        dir.state_raw()
    );

    // The next apply refuses again and leaves the other release alone.
    let again = dir.apply();
    again.expect_code(1);
    assert!(
        unfolded(&again.stderr).contains("terraform import"),
        "{again:?}"
    );
    let status = helm(&world, &helm4, &["status", RELEASE, "-n", &namespace]);
    ok(&status, "helm status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("STATUS: deployed"), "{status}");
    // Their revision 1; when helm found it before installing, it upgraded it (revision 2).
    let revision = match race {
        Race::BeforeHelmsHistoryCheck => "REVISION: 2",
        Race::AtTheNameCheck | Race::AtTheRecordCreate => "REVISION: 1",
    };
    assert!(status.contains(revision), "{status}");
}

#[test]
fn a_release_installed_by_someone_else_before_helms_history_check_is_not_taken_over() {
    a_release_installed_by_someone_else_is_not_taken_over(Race::BeforeHelmsHistoryCheck);
}

#[test]
fn a_release_installed_by_someone_else_before_our_name_check_is_not_taken_over() {
    a_release_installed_by_someone_else_is_not_taken_over(Race::AtTheNameCheck);
}

#[test]
fn a_release_installed_by_someone_else_before_our_release_record_is_not_taken_over() {
    a_release_installed_by_someone_else_is_not_taken_over(Race::AtTheRecordCreate);
}

#[test]
fn an_update_of_state_written_before_runner_left_paused_existed_applies_cleanly() {
    let world = KubeWorld::start();
    let namespace = world.create_namespace("oldstate");
    let dir = workdir(&world);
    // No token Secret here: without --wait this also runs on a real cluster.
    dir.write(
        "main.tf",
        &release_config(&world, &namespace, "  wait = false"),
    );
    dir.apply().success();
    // As an older provider wrote it: no runner_left_paused.
    let mut state = dir.state();
    let attributes = state["resources"][0]["instances"][0]["attributes"]
        .as_object_mut()
        .expect("release attributes");
    assert!(attributes.remove("runner_left_paused").is_some());
    dir.write(
        "terraform.tfstate",
        &serde_json::to_string_pretty(&state).unwrap(),
    );
    dir.plan().expect_code(0);

    // An upgrade keeps it null (the planned value), with no "inconsistent result".
    dir.write(
        "main.tf",
        &release_config(&world, &namespace, "  wait = false\n  concurrent = 3"),
    );
    let run = dir.apply();
    run.success();
    assert!(!run.output().contains("inconsistent"), "{run:?}");
    dir.plan().expect_code(0);
    dir.destroy().success();
}

// --- drain_on_update -------------------------------------------------------------------------

const RUNNER_TOKEN: &str = "glrt-t1_UpDaTeTeStToKeN0123";
const ADMIN_TOKEN: &str = "glpat-update-admin";

/// How the upgrade is interrupted.
#[derive(Clone, Copy, Debug)]
enum Interruption {
    /// SIGINT to terraform (Ctrl-C): Terraform sends StopProvider.
    CtrlC,
    /// `timeouts { update = "8s" }` runs out while helm is held.
    Deadline,
}

struct DrainSetup {
    world: KubeWorld,
    runtime: tokio::runtime::Runtime,
    gitlab: TestServer,
    runner_id: u64,
    namespace: String,
    dir: TerraformWorkdir,
}

impl DrainSetup {
    /// A token Secret and a release with `drain_on_update = true`, applied.
    fn start() -> DrainSetup {
        let world = KubeWorld::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gitlab = runtime.block_on(TestServer::start()).unwrap();
        runtime
            .block_on(
                gitlab
                    .admin()
                    .add_token(&TokenSpec::admin("root", ADMIN_TOKEN)),
            )
            .unwrap();
        let runner = runtime
            .block_on(gitlab.admin().create_runner(&NewRunner {
                token: Some(RUNNER_TOKEN.into()),
                ..NewRunner::default()
            }))
            .unwrap();
        let namespace = world.create_namespace("upd");
        let mut dir = workdir(&world);
        dir.set_env("GITLAB_TOKEN", "");
        dir.set_env("GITLAB_BASE_URL", "");
        let setup = DrainSetup {
            world,
            runtime,
            gitlab,
            runner_id: runner.id,
            namespace,
            dir,
        };
        setup.write_config(1, "");
        setup.dir.apply().success();
        setup
    }

    fn write_config(&self, concurrent: u32, extra: &str) {
        let config = ReleaseHcl::new(
            &self.world,
            &helm_bin(&self.world, HelmVersion::Four),
            &self.namespace,
        )
        .gitlab_block(&format!(
            "  gitlab {{\n    base_url = \"{}\"\n    token    = \"{ADMIN_TOKEN}\"\n  }}\n",
            self.gitlab.url()
        ))
        .gitlab_url(self.gitlab.url())
        .token_secret(RUNNER_TOKEN)
        .lines(&format!(
            r#"  runner_name       = "k8s-runner"
  concurrent        = {concurrent}
  drain_on_update   = true
  drain_timeout     = "1m"
{SMALL_RUNNER}
  timeout = 120
{extra}"#
        ))
        .build();
        self.dir.write("main.tf", &config);
    }

    fn runner_paused(&self) -> bool {
        self.runtime
            .block_on(self.gitlab.admin().runner(self.runner_id))
            .unwrap()
            .expect("runner exists")
            .paused
    }

    /// Starts `terraform apply` without waiting (so it can be interrupted).
    fn spawn_apply(&self) -> std::process::Child {
        Command::new(&self.world.tools().terraform)
            .args(["apply", "-auto-approve", "-input=false", "-no-color"])
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join(".terraformrc"))
            .env("TF_LOG", "info")
            .env("TF_LOG_PATH", self.dir.path().join("terraform.log"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env_remove("GITLAB_TOKEN")
            .env_remove("GITLAB_BASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Changes `concurrent` and starts the upgrade with helm held in its Deployment patch for
    /// 20 s; `how` interrupts it once the runner is paused. Returns the apply's exit code and
    /// output.
    fn interrupted_upgrade(&self, how: Interruption) -> (i32, String) {
        let admin = self.world.admin().unwrap();
        admin
            .inject_fault(&latency_fault(
                "PATCH",
                format!("/apis/apps/v1/namespaces/{}/deployments/*", self.namespace),
                1,
                20_000,
            ))
            .unwrap();
        match how {
            Interruption::CtrlC => self.write_config(2, ""),
            Interruption::Deadline => {
                self.write_config(2, "  timeouts {\n    update = \"8s\"\n  }");
            }
        }
        let apply = self.spawn_apply();
        wait_until(
            "helm to patch the Deployment",
            Duration::from_secs(60),
            || admin.faults().unwrap().is_empty(),
        );
        assert!(self.runner_paused(), "drain_on_update paused the runner");
        if matches!(how, Interruption::CtrlC) {
            let status = Command::new("kill")
                .args(["-INT", &apply.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let out = apply.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn an_interrupted_upgrade_resumes_the_runner_it_paused(how: Interruption) {
    acceptance::skip_in_real_cluster!(
        "holding helm mid-upgrade needs the test server's fault injection"
    );
    let setup = DrainSetup::start();
    assert!(!setup.runner_paused());
    let started = Instant::now();
    let (code, output) = setup.interrupted_upgrade(how);
    assert_ne!(code, 0, "{output}");
    assert!(started.elapsed() < Duration::from_secs(60), "{output}");
    assert!(
        !setup.runner_paused(),
        "the runner takes jobs again after the interrupted upgrade: {output}"
    );
    assert!(!output.contains("Runner Left Paused"), "{output}");

    // The next apply finishes the upgrade, and the runner ends up running.
    setup.dir.apply().success();
    assert!(!setup.runner_paused());
    assert_eq!(release_attr(&setup.dir, "status"), "deployed");
    assert_eq!(release_attr(&setup.dir, "runner_left_paused"), false);
    setup.dir.plan().expect_code(0);
}

#[test]
fn an_upgrade_interrupted_by_ctrl_c_resumes_the_runner_it_paused() {
    an_interrupted_upgrade_resumes_the_runner_it_paused(Interruption::CtrlC);
}

#[test]
fn an_upgrade_that_runs_out_of_time_resumes_the_runner_it_paused() {
    an_interrupted_upgrade_resumes_the_runner_it_paused(Interruption::Deadline);
}

#[test]
fn a_runner_an_interrupted_upgrade_could_not_resume_is_resumed_by_the_next_apply() {
    acceptance::skip_in_real_cluster!(
        "holding helm mid-upgrade needs the test server's fault injection"
    );
    let setup = DrainSetup::start();
    // GitLab accepts the pause, then fails every later change of the runner (the resume).
    let runner_path = format!("/api/v4/runners/{}", setup.runner_id);
    setup
        .runtime
        .block_on(
            setup.gitlab.admin().add_fault(
                &FaultRule::new(
                    "PUT",
                    runner_path.clone(),
                    1_000,
                    gitlab_test_server::Fault::Status {
                        code: 503,
                        body: None,
                    },
                )
                .after(1),
            ),
        )
        .unwrap();
    let (code, output) = setup.interrupted_upgrade(Interruption::CtrlC);
    assert_ne!(code, 0, "{output}");
    assert!(setup.runner_paused(), "GitLab refused the resume");
    assert!(unfolded(&output).contains("Runner Left Paused"), "{output}");
    assert_eq!(release_attr(&setup.dir, "runner_left_paused"), true);

    // GitLab is back: the plan shows that an apply is due, and the apply resumes the runner.
    setup
        .runtime
        .block_on(setup.gitlab.admin().clear_faults())
        .unwrap();
    let plan = setup.dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("runner_left_paused"), "{plan:?}");
    assert!(
        unfolded(&plan.output()).contains("Runner Left Paused By An Interrupted Upgrade"),
        "{plan:?}"
    );
    setup.dir.apply().success();
    assert!(
        !setup.runner_paused(),
        "the next apply resumed the runner our drain had paused"
    );
    assert_eq!(release_attr(&setup.dir, "runner_left_paused"), false);
    setup.dir.plan().expect_code(0);
}
