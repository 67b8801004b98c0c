#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

//! The drain through real `terraform destroy` of a `gitlabrunner_release` (real helm 4, the
//! Kubernetes API test server and the GitLab API test server): the runner is paused first, the
//! release stays while a job runs, the manager scales to 0 before RBAC goes, then the uninstall.
//! Also: drain timeout, job pods alone without GitLab access, and an interrupted destroy (SIGINT
//! → StopProvider) resumed by a second destroy.
//!
//! Runs on a real cluster too (`GITLABRUNNER_TEST_REAL_CLUSTER=1`): job pods are created with
//! kubectl and their phase set through the `status` subresource, and the order of operations
//! comes from watches instead of the test server's request log.

mod release_support;
mod timeline_support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use acceptance::{KubeWorld, TerraformWorkdir};
use chrono::{DateTime, Utc};
use gitlab_test_server::{NewJob, NewRunner, TestServer, TokenSpec};
use release_support::{RELEASE, ReleaseHcl};
use timeline_support::{Change, Timeline};

const RUNNER_TOKEN: &str = "glrt-t1_DrAiNtEsTtOkEn0123";
const SHORT_TOKEN: &str = "DrAiNtEsT";
const ADMIN_TOKEN: &str = "glpat-drain-admin";

/// How the provider reaches GitLab for the drain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No gitlab block: the drain watches job pods only.
    None,
    /// An API token over plain HTTP.
    Token,
    /// An API token, GitLab over HTTPS signed by a private CA given as `ca_certificate`.
    TokenWithPrivateCa,
}

/// The provider block's line naming GitLab's CA (removed and restored by a test).
const CA_LINE: &str = "    ca_certificate = file(\"${path.module}/gitlab-ca.pem\")\n";

struct Setup {
    world: KubeWorld,
    runtime: tokio::runtime::Runtime,
    gitlab: TestServer,
    runner_id: u64,
    namespace: String,
    jobs: String,
    dir: TerraformWorkdir,
    /// Changes in the release namespace since the apply (for real clusters, which have no
    /// request log).
    timeline: Timeline,
}

impl Setup {
    /// Applies a token Secret and a release; `access` decides the provider's gitlab block.
    fn start(access: Access, drain_timeout: &str) -> Setup {
        let world = KubeWorld::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gitlab = if access == Access::TokenWithPrivateCa {
            runtime.block_on(TestServer::start_tls()).unwrap()
        } else {
            runtime.block_on(TestServer::start()).unwrap()
        };
        let admin = gitlab.admin();
        runtime
            .block_on(admin.add_token(&TokenSpec::admin("root", ADMIN_TOKEN)))
            .unwrap();
        let runner = runtime
            .block_on(admin.create_runner(&NewRunner {
                token: Some(RUNNER_TOKEN.into()),
                ..NewRunner::default()
            }))
            .unwrap();
        let namespace = world.create_namespace("drain");
        let jobs = world.create_namespace("jobs");
        let mut dir = TerraformWorkdir::new(&world.tools().terraform, &world.tools().provider);
        dir.set_env("TF_LOG", "info");
        dir.set_env("GITLAB_TOKEN", "");
        dir.set_env("GITLAB_BASE_URL", "");
        let ca_line = match gitlab.ca_pem() {
            Some(pem) => {
                dir.write("gitlab-ca.pem", pem);
                CA_LINE
            }
            None => "",
        };
        let gitlab_block = if access == Access::None {
            String::new()
        } else {
            format!(
                "  gitlab {{\n    base_url = \"{}\"\n    token    = \"{ADMIN_TOKEN}\"\n{ca_line}  }}\n",
                gitlab.url()
            )
        };
        let config = ReleaseHcl::new(&world, &world.tools().helm4, &namespace)
            .gitlab_block(&gitlab_block)
            .gitlab_url(gitlab.url())
            .token_secret(RUNNER_TOKEN)
            .lines(&format!(
                r#"  runner_name       = "k8s-runner"

  rbac {{
    create = true
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "delete"]
    }}
  }}

  runner {{
    kubernetes {{
      namespace = "{jobs}"
    }}
  }}

  drain_timeout = "{drain_timeout}"
  timeout       = 120"#
            ))
            .build();
        dir.write("main.tf", &config);
        dir.apply().success();
        if let Some(admin) = world.admin() {
            admin.clear_requests().unwrap();
        }
        runtime.block_on(gitlab.admin().clear_requests()).unwrap();
        let timeline = Timeline::start(&runtime, world.kubeconfig(), &namespace);
        Setup {
            world,
            runtime,
            gitlab,
            runner_id: runner.id,
            namespace,
            jobs,
            dir,
            timeline,
        }
    }

    fn start_job(&self, pod: &str) -> u64 {
        let job = self
            .runtime
            .block_on(
                self.gitlab
                    .admin()
                    .start_job(self.runner_id, &NewJob::running(7, "build")),
            )
            .unwrap();
        let labels: BTreeMap<&str, &str> = BTreeMap::from([
            ("manager.runner.gitlab.com/id-short", SHORT_TOKEN),
            ("manager.runner.gitlab.com/name", "k8s-runner"),
        ]);
        let annotations = BTreeMap::from([
            ("job.runner.gitlab.com/id", job.id.to_string()),
            ("job.runner.gitlab.com/url", job.web_url.clone()),
        ]);
        self.world
            .create_job_pod(&self.jobs, pod, &labels, &annotations, "Running");
        job.id
    }

    fn finish_job(&self, job: u64, pod: &str) -> DateTime<Utc> {
        let at = Utc::now();
        self.runtime
            .block_on(self.gitlab.admin().finish_job(job))
            .unwrap();
        self.world.set_pod_phase(&self.jobs, pod, "Succeeded");
        at
    }

    fn runner_paused(&self) -> bool {
        self.runtime
            .block_on(self.gitlab.admin().runner(self.runner_id))
            .unwrap()
            .expect("runner exists")
            .paused
    }

    fn release_secret_count(&self) -> usize {
        let out = self.world.kubectl(&[
            "get",
            "secrets",
            "-n",
            &self.namespace,
            "-l",
            "owner=helm",
            "-o",
            "name",
        ]);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    fn exists(&self, kind: &str, name: &str) -> bool {
        self.world.get_json(kind, &self.namespace, name).is_some()
    }

    /// When the release's Deployment was scaled to 0: from the test server's request log, or
    /// from the watches on a real cluster.
    fn scaled_at(&self) -> Option<DateTime<Utc>> {
        match self.world.admin() {
            Some(_) => self.kube_time("PATCH", &format!("/deployments/{RELEASE}/scale")),
            None => self
                .timeline
                .when("deployment", RELEASE, &Change::ScaledToZero),
        }
    }

    /// When `kind` (singular, lower case) `name` was deleted; `plural` names it in API paths.
    fn deleted_at(&self, kind: &str, plural: &str, name: &str) -> Option<DateTime<Utc>> {
        match self.world.admin() {
            Some(_) => self.kube_time("DELETE", &format!("/{plural}/{name}")),
            None => self.timeline.when(kind, name, &Change::Deleted),
        }
    }

    fn nothing_scaled(&self) -> bool {
        match self.world.admin() {
            Some(_) => self.kube_time("PATCH", "/scale").is_none(),
            None => !self.timeline.any_scaled_to_zero(),
        }
    }

    fn nothing_deleted(&self) -> bool {
        match self.world.admin() {
            Some(_) => self.kube_time("DELETE", "/").is_none(),
            None => !self.timeline.any_deleted(),
        }
    }

    fn kube_time(&self, method: &str, path_contains: &str) -> Option<DateTime<Utc>> {
        self.world
            .admin()?
            .requests()
            .unwrap()
            .iter()
            .find(|r| r.method == method && r.path.contains(path_contains))
            .map(|r| {
                DateTime::parse_from_rfc3339(&r.timestamp)
                    .unwrap()
                    .with_timezone(&Utc)
            })
    }

    fn gitlab_time(&self, method: &str, path: &str) -> Option<DateTime<Utc>> {
        self.gitlab
            .request_log()
            .iter()
            .find(|r| r.method == method && r.path == path && r.status.is_some_and(|s| s < 300))
            .map(|r| {
                DateTime::parse_from_rfc3339(&r.at)
                    .unwrap()
                    .with_timezone(&Utc)
            })
    }

    /// Starts `terraform destroy` without waiting.
    fn spawn_destroy(&self) -> std::process::Child {
        Command::new(&self.world.tools().terraform)
            .args(["destroy", "-auto-approve", "-input=false", "-no-color"])
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
}

fn wait_with_output(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn terraform_destroy_pauses_waits_for_the_job_and_stops_the_manager_before_rbac_goes() {
    let setup = Setup::start(Access::Token, "5m");
    let pod = "runner-draintest-project-7-concurrent-0-aaaa";
    let job = setup.start_job(pod);
    let destroy = setup.spawn_destroy();

    thread::sleep(Duration::from_secs(3));
    assert!(setup.runner_paused(), "the runner is paused first");
    assert!(
        setup.release_secret_count() > 0,
        "the release stays while the job runs"
    );
    assert!(setup.exists("role", RELEASE));
    assert!(setup.nothing_scaled());

    let finished_at = setup.finish_job(job, pod);
    let (code, output) = wait_with_output(destroy);
    assert_eq!(code, 0, "{output}");

    let runner_path = format!("/api/v4/runners/{}", setup.runner_id);
    let paused_at = setup.gitlab_time("PUT", &runner_path).expect("paused");
    let scaled_at = setup.scaled_at().expect("scaled to 0");
    let role_gone = setup
        .deleted_at("role", "roles", RELEASE)
        .expect("role deleted");
    let binding_gone = setup
        .deleted_at("rolebinding", "rolebindings", RELEASE)
        .expect("rolebinding deleted");
    let secret_gone = setup
        .deleted_at("secret", "secrets", "runner-token")
        .expect("token secret deleted");
    assert!(paused_at < finished_at);
    assert!(finished_at <= scaled_at, "{finished_at} <= {scaled_at}");
    assert!(scaled_at - finished_at < chrono::Duration::milliseconds(2000));
    assert!(scaled_at < role_gone && scaled_at < binding_gone);
    assert!(
        role_gone < secret_gone,
        "the token Secret outlives the release"
    );
    assert!(setup.runner_paused(), "kept runner stays paused");
    assert!(output.contains("GitLab Runner Left Paused"), "{output}");

    let log = setup.dir.log();
    assert!(
        log.contains("drain: waiting for 1 running job(s) to finish"),
        "progress at INFO"
    );
    assert!(
        !log.contains(RUNNER_TOKEN),
        "the runner token never reaches the log"
    );
    assert!(
        !log.contains(ADMIN_TOKEN),
        "the GitLab token never reaches the log"
    );
}

#[test]
fn terraform_destroy_drain_timeout_keeps_release_rbac_and_the_paused_runner() {
    let setup = Setup::start(Access::Token, "2s");
    setup.start_job("runner-draintest-project-7-concurrent-0-bbbb");
    let run = setup.dir.destroy();
    assert_ne!(run.code, 0, "{run:?}");
    let output = run.output();
    assert!(output.contains("Runner Drain Timed Out"), "{output}");
    assert!(output.contains("build (group/project-7)"), "{output}");
    assert!(output.contains("Nothing was deleted"), "{output}");
    assert!(setup.release_secret_count() > 0);
    assert!(setup.exists("role", RELEASE));
    assert!(setup.exists("rolebinding", RELEASE));
    assert!(setup.exists("secret", "runner-token"));
    assert!(setup.runner_paused());
    assert!(setup.nothing_deleted(), "nothing deleted");
}

#[test]
fn terraform_destroy_reaches_a_gitlab_behind_a_private_ca() {
    let setup = Setup::start(Access::TokenWithPrivateCa, "5m");
    assert!(setup.gitlab.url().starts_with("https://"));
    let with_ca = std::fs::read_to_string(setup.dir.path().join("main.tf")).unwrap();
    assert!(with_ca.contains(CA_LINE));

    // Without the CA the drain cannot pause the runner: it stops before deleting anything and
    // says what to set.
    setup.dir.write("main.tf", &with_ca.replace(CA_LINE, ""));
    let refused = setup.dir.destroy();
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("GitLab Request Failed During Drain")
            && refused.stderr.contains("ca_certificate"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains("Nothing was deleted"),
        "{refused:?}"
    );
    // Terraform wraps diagnostics at 78 columns: compare with the line breaks unfolded.
    let unfolded = refused
        .stderr
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        unfolded.contains("the release is still installed and the runner was not paused"),
        "{refused:?}"
    );
    assert!(!setup.runner_paused());
    assert!(setup.release_secret_count() > 0, "the release was kept");

    // With it, the drain pauses the runner over TLS and the release goes.
    setup.dir.write("main.tf", &with_ca);
    setup.dir.destroy().success();
    assert!(setup.runner_paused(), "the runner is paused");
    assert_eq!(setup.release_secret_count(), 0, "the release is gone");
    let runner_path = format!("/api/v4/runners/{}", setup.runner_id);
    assert!(
        setup.gitlab_time("PUT", &runner_path).is_some(),
        "the pause reached GitLab over HTTPS"
    );
}

#[test]
fn terraform_destroy_without_gitlab_access_waits_for_job_pods_and_says_so() {
    let setup = Setup::start(Access::None, "5m");
    // The destroy plan already says the drain has no GitLab access.
    let plan = setup
        .dir
        .run(&["plan", "-destroy", "-input=false", "-no-color"]);
    plan.success();
    assert!(
        plan.output().contains("Draining Without GitLab Access"),
        "destroy plan lacks the warning: {plan:?}"
    );
    let pod = "runner-draintest-project-7-concurrent-0-cccc";
    let job = setup.start_job(pod);
    let destroy = setup.spawn_destroy();
    thread::sleep(Duration::from_secs(3));
    assert!(
        setup.release_secret_count() > 0,
        "the job pod holds the drain"
    );
    assert!(setup.nothing_scaled());
    setup.finish_job(job, pod);
    let (code, output) = wait_with_output(destroy);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("Draining Without GitLab Access"),
        "{output}"
    );
    assert!(
        setup.gitlab.request_log().is_empty(),
        "GitLab not contacted"
    );
    assert!(!setup.runner_paused());
}

#[test]
fn interrupted_terraform_destroy_keeps_everything_and_a_second_destroy_resumes() {
    let setup = Setup::start(Access::Token, "5m");
    let pod = "runner-draintest-project-7-concurrent-0-dddd";
    let job = setup.start_job(pod);
    let destroy = setup.spawn_destroy();
    thread::sleep(Duration::from_secs(3));
    let interrupted = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &destroy.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, output) = wait_with_output(destroy);
    assert_ne!(code, 0, "{output}");
    assert!(interrupted.elapsed() < Duration::from_secs(30));
    assert!(output.contains("Release Teardown Interrupted"), "{output}");
    assert!(setup.release_secret_count() > 0);
    assert!(setup.exists("role", RELEASE));
    assert!(setup.runner_paused());

    thread::scope(|scope| {
        let gitlab_admin = setup.gitlab.admin();
        let handle = setup.runtime.handle().clone();
        let world = &setup.world;
        let jobs = setup.jobs.as_str();
        let finisher = scope.spawn(move || {
            thread::sleep(Duration::from_secs(3));
            handle.block_on(gitlab_admin.finish_job(job)).unwrap();
            world.set_pod_phase(jobs, pod, "Succeeded");
        });
        setup.dir.destroy().success();
        finisher.join().unwrap();
    });
    assert_eq!(setup.release_secret_count(), 0);
    assert!(!setup.exists("role", RELEASE));
}
