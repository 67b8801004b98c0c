#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

//! Which GitLab the drain talks to (issue 11), through real `terraform` and helm 4: the GitLab
//! the runner belongs to (the release's `gitlab_url`), not gitlab.com, when only `GITLAB_TOKEN`
//! is set; a `base_url` on another host is refused at plan and destroy before anything is sent;
//! `allow_different_host = true` lets it through.
//!
//! Two GitLab API test servers, both knowing the admin token and the runner: the runner's
//! GitLab (`gitlab_url`, `http://127.0.0.1:PORT`) and "elsewhere" (`http://localhost:PORT2`,
//! another host name) — their request logs show which one the drain reached. Runs against the
//! Kubernetes API test server or a real cluster (nothing here needs the cluster's admin surface).

mod release_support;

use acceptance::{KubeWorld, TerraformWorkdir, unfolded};
use gitlab_test_server::{LoggedRequest, NewRunner, TestServer, TokenSpec};
use release_support::ReleaseHcl;

const RUNNER_TOKEN: &str = "glrt-t1_HoStChEcKtOkEn0123";
const ADMIN_TOKEN: &str = "glpat-host-check-admin";

struct Setup {
    world: KubeWorld,
    runtime: tokio::runtime::Runtime,
    /// The runner's GitLab: the release's `gitlab_url`.
    gitlab: TestServer,
    /// Another host (`localhost` instead of `127.0.0.1`), knowing the same tokens.
    elsewhere: TestServer,
    runner_id: u64,
    namespace: String,
    dir: TerraformWorkdir,
}

impl Setup {
    /// Installs a token Secret and a release (no gitlab block; `GITLAB_TOKEN` set) and clears
    /// both request logs.
    fn start() -> Setup {
        let world = KubeWorld::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gitlab = runtime.block_on(TestServer::start()).unwrap();
        let elsewhere = runtime.block_on(TestServer::start()).unwrap();
        let mut runner_id = 0;
        for server in [&gitlab, &elsewhere] {
            let admin = server.admin();
            runtime
                .block_on(admin.add_token(&TokenSpec::admin("root", ADMIN_TOKEN)))
                .unwrap();
            runner_id = runtime
                .block_on(admin.create_runner(&NewRunner {
                    token: Some(RUNNER_TOKEN.into()),
                    ..NewRunner::default()
                }))
                .unwrap()
                .id;
        }
        let namespace = world.create_namespace("gitlab-host");
        let mut dir = TerraformWorkdir::new(&world.tools().terraform, &world.tools().provider);
        dir.set_env("TF_LOG", "info");
        dir.set_env("GITLAB_TOKEN", ADMIN_TOKEN);
        // Empty counts as unset: nothing from the outer environment decides the GitLab.
        for variable in [
            "GITLAB_BASE_URL",
            "GITLAB_ALLOW_DIFFERENT_HOST",
            "CI_SERVER_URL",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            dir.set_env(variable, "");
        }
        let setup = Setup {
            world,
            runtime,
            gitlab,
            elsewhere,
            runner_id,
            namespace,
            dir,
        };
        setup.write_config("");
        setup.dir.apply().success();
        setup.clear_request_logs();
        setup
    }

    /// `http://localhost:PORT` of the other server.
    fn elsewhere_url(&self) -> String {
        format!("http://localhost:{}", self.elsewhere.address().port())
    }

    /// `main.tf` with `gitlab_block` (HCL lines inside the provider block, or empty).
    fn write_config(&self, gitlab_block: &str) {
        let config = ReleaseHcl::new(&self.world, &self.world.tools().helm4, &self.namespace)
            .gitlab_block(gitlab_block)
            .gitlab_url(self.gitlab.url())
            // verify_runner (on by default with GitLab access) waits for a manager contact no
            // test-world pod can make; these tests are about which host the drain talks to.
            .verify_runner(false)
            .token_secret(RUNNER_TOKEN)
            .without_token_digest()
            .lines(&format!(
                r#"  runner_name       = "k8s-runner"
  drain_timeout     = "20s"

  runner {{
    kubernetes {{
      namespace = "{namespace}"
    }}
  }}
  timeout           = 120

  timeouts {{
    delete = "60s"
  }}"#,
                namespace = self.namespace,
            ))
            .build();
        self.dir.write("main.tf", &config);
    }

    fn clear_request_logs(&self) {
        for server in [&self.gitlab, &self.elsewhere] {
            self.runtime
                .block_on(server.admin().clear_requests())
                .unwrap();
        }
    }

    fn paused_on(&self, server: &TestServer) -> bool {
        self.runtime
            .block_on(server.admin().runner(self.runner_id))
            .unwrap()
            .expect("runner exists")
            .paused
    }

    fn release_installed(&self) -> bool {
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
        assert!(out.status.success(), "{out:?}");
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    }
}

/// `METHOD path` of each logged request.
fn calls(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|entry| format!("{} {}", entry.method, entry.path))
        .collect()
}

#[test]
fn with_only_gitlab_token_set_the_drain_talks_to_the_release_gitlab_url() {
    let setup = Setup::start();
    let plan = setup
        .dir
        .run(&["plan", "-destroy", "-input=false", "-no-color"]);
    plan.success();
    assert!(
        !plan.output().contains("Draining Without GitLab Access"),
        "{plan:?}"
    );

    let destroy = setup.dir.destroy();
    destroy.success();
    let runner_path = format!("/api/v4/runners/{}", setup.runner_id);
    let to_gitlab = calls(&setup.gitlab.request_log());
    assert!(
        to_gitlab.contains(&"POST /api/v4/runners/verify".to_owned()),
        "{to_gitlab:?}"
    );
    assert!(
        to_gitlab.contains(&format!("PUT {runner_path}")),
        "{to_gitlab:?}"
    );
    assert!(
        setup.paused_on(&setup.gitlab),
        "paused in the runner's GitLab"
    );
    assert_eq!(calls(&setup.elsewhere.request_log()), Vec::<String>::new());
    assert!(!setup.release_installed());
    let log = setup.dir.log();
    assert!(!log.contains(RUNNER_TOKEN) && !log.contains(ADMIN_TOKEN));
}

#[test]
fn a_base_url_on_another_host_is_refused_before_anything_is_sent_unless_allowed() {
    let mut setup = Setup::start();
    let elsewhere = setup.elsewhere_url();
    let gitlab_url = setup.gitlab.url().to_owned();

    // Configured in the gitlab block: the plan already refuses, at the release's gitlab_url.
    setup.write_config(&format!(
        "  gitlab {{\n    base_url = \"{elsewhere}\"\n  }}\n"
    ));
    let plan = setup.dir.plan();
    assert_eq!(plan.code, 1, "{plan:?}");
    let said = unfolded(&plan.stderr);
    for part in [
        "Error: GitLab API Host Differs From gitlab_url".to_owned(),
        "with gitlabrunner_release.runner".to_owned(),
        format!("gitlab_url = \"{gitlab_url}\""),
        format!("{elsewhere}/ (the provider's gitlab.base_url)"),
        format!("{gitlab_url}/ (gitlab_url)"),
        "allow_different_host = true".to_owned(),
    ] {
        assert!(said.contains(&part), "{part:?} missing: {plan:?}");
    }
    let destroy = setup.dir.destroy();
    assert_ne!(destroy.code, 0, "{destroy:?}");
    assert!(
        unfolded(&destroy.stderr).contains("GitLab API Host Differs From gitlab_url"),
        "{destroy:?}"
    );

    // From GITLAB_BASE_URL: refused the same way, naming the variable.
    setup.write_config("");
    setup.dir.set_env("GITLAB_BASE_URL", elsewhere.clone());
    let destroy = setup.dir.destroy();
    assert_ne!(destroy.code, 0, "{destroy:?}");
    let said = unfolded(&destroy.stderr);
    assert!(
        said.contains(&format!("{elsewhere}/ (GITLAB_BASE_URL)")),
        "{destroy:?}"
    );
    assert!(
        said.contains("GITLAB_ALLOW_DIFFERENT_HOST=true"),
        "{destroy:?}"
    );

    assert_eq!(calls(&setup.gitlab.request_log()), Vec::<String>::new());
    assert_eq!(calls(&setup.elsewhere.request_log()), Vec::<String>::new());
    assert!(setup.release_installed(), "nothing was destroyed");
    assert!(!setup.paused_on(&setup.gitlab) && !setup.paused_on(&setup.elsewhere));

    // The opt-out: the drain uses base_url's host (a GitLab whose API is served elsewhere).
    setup.dir.set_env("GITLAB_BASE_URL", "");
    setup.write_config(&format!(
        "  gitlab {{\n    base_url             = \"{elsewhere}\"\n    allow_different_host = true\n  }}\n"
    ));
    setup.dir.plan().expect_code(0);
    setup.dir.destroy().success();
    let to_elsewhere = calls(&setup.elsewhere.request_log());
    assert!(
        to_elsewhere.contains(&format!("PUT /api/v4/runners/{}", setup.runner_id)),
        "{to_elsewhere:?}"
    );
    assert!(setup.paused_on(&setup.elsewhere));
    assert_eq!(calls(&setup.gitlab.request_log()), Vec::<String>::new());
    assert!(!setup.release_installed());
}
