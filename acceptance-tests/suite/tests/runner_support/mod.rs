//! What the `gitlabrunner_runner` acceptance tests share: a Kubernetes world, a GitLab API test
//! server (in-process, so its test surface is always there), and a Terraform directory whose
//! provider reaches both through `GITLAB_TOKEN` and the resource's `gitlab_url`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use acceptance::{KubeWorld, TerraformRun, TerraformWorkdir};
use gitlab_runner_api::{ClientConfig, GitlabClient, SecretString};
use gitlab_test_server::{AdminClient, NewManager, RunnerRecord, TestServer, TokenSpec};
use serde_json::Value;

use crate::secret_support::{secret_data, workdir};

pub const ADMIN_TOKEN: &str = "glpat-runner-resource-admin";

pub struct Setup {
    pub world: KubeWorld,
    pub runtime: tokio::runtime::Runtime,
    pub gitlab: TestServer,
    pub namespace: String,
    pub dir: TerraformWorkdir,
}

impl Setup {
    /// A world, a GitLab test server with an administrator token, a namespace and a Terraform
    /// directory (`TF_LOG=trace`: every log line is checked for tokens).
    pub fn start(prefix: &str) -> Setup {
        let world = KubeWorld::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let gitlab = runtime
            .block_on(TestServer::start())
            .expect("GitLab test server");
        runtime
            .block_on(
                gitlab
                    .admin()
                    .add_token(&TokenSpec::admin("root", ADMIN_TOKEN)),
            )
            .expect("admin token");
        let namespace = world.create_namespace(prefix);
        let mut dir = workdir(&world);
        dir.set_env("TF_LOG", "trace");
        dir.set_env("GITLAB_TOKEN", ADMIN_TOKEN);
        for variable in [
            "GITLAB_BASE_URL",
            "GITLAB_ALLOW_DIFFERENT_HOST",
            "CI_SERVER_URL",
        ] {
            dir.set_env(variable, "");
        }
        Setup {
            world,
            runtime,
            gitlab,
            namespace,
            dir,
        }
    }

    pub fn admin(&self) -> AdminClient {
        self.gitlab.admin()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// The runner as the GitLab test server holds it (with its current token).
    pub fn runner(&self, id: u64) -> Option<RunnerRecord> {
        self.block_on(self.admin().runner(id))
            .expect("test surface")
    }

    /// A `gitlabrunner_runner` named `name` with `body` (HCL lines) writing Secret `secret`.
    pub fn runner_hcl(&self, name: &str, secret: &str, body: &str) -> String {
        format!(
            r#"
resource "gitlabrunner_runner" "{name}" {{
  gitlab_url = "{url}"
{body}
  token_secret {{
    namespace = "{namespace}"
    name      = "{secret}"
  }}
}}
"#,
            url = self.gitlab.url(),
            namespace = self.namespace,
        )
    }

    /// The runner token in Secret `name`.
    pub fn secret_token(&self, name: &str) -> Option<String> {
        let data = secret_data(&self.world, &self.namespace, name)?;
        assert_eq!(
            data.get("runner-registration-token").map(String::as_str),
            Some(""),
            "both chart keys are written"
        );
        data.get("runner-token").cloned()
    }

    pub fn attrs(&self, address: &str) -> Value {
        self.dir
            .resource_attributes(address)
            .unwrap_or_else(|| panic!("{address} is in state"))
    }

    pub fn runner_id(&self, address: &str) -> u64 {
        self.attrs(address)["runner_id"]
            .as_u64()
            .expect("runner_id")
    }

    /// `terraform apply` with the test standing in for the runner manager. `verify_runner` is on
    /// by default (the provider has GitLab access to the runner's host) and waits until a manager
    /// contacts GitLab after the rollout; the test world's manager pods run no gitlab-runner, and
    /// a real cluster's could not reach this in-process GitLab test server. So once the apply has
    /// rolled Deployment `deployment` out (a new generation, observed, with a ready updated pod),
    /// the test does what `gitlab-runner run` does when it starts: it verifies the token in
    /// Secret `secret` and reports its manager (a system id) to GitLab. An apply that does not
    /// roll the Deployment runs without a contact.
    pub fn apply_as_manager(&self, deployment: &str, secret: &str) -> TerraformRun {
        let before = self.generation(deployment);
        std::thread::scope(|scope| {
            let apply = scope.spawn(|| self.dir.apply());
            let mut contacted = false;
            while !apply.is_finished() {
                if !contacted && self.rolled_out(deployment, before) {
                    self.contact_as_manager(secret);
                    contacted = true;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            apply.join().expect("the apply thread")
        })
    }

    fn generation(&self, deployment: &str) -> Option<i64> {
        self.world
            .get_json("deployment", &self.namespace, deployment)
            .and_then(|d| d["metadata"]["generation"].as_i64())
    }

    /// Deployment `deployment` has a generation newer than `before`, observed by its controller,
    /// with an updated pod that is ready.
    fn rolled_out(&self, deployment: &str, before: Option<i64>) -> bool {
        let Some(d) = self
            .world
            .get_json("deployment", &self.namespace, deployment)
        else {
            return false;
        };
        let generation = d["metadata"]["generation"].as_i64().unwrap_or(0);
        let count = |field: &str| d["status"][field].as_i64().unwrap_or(0);
        generation > before.unwrap_or(0)
            && count("observedGeneration") >= generation
            && count("updatedReplicas") >= 1
            && count("readyReplicas") >= 1
    }

    /// What a starting `gitlab-runner run` does: `POST /runners/verify` with the token it mounts
    /// from Secret `secret`, as a manager with its own system id.
    fn contact_as_manager(&self, secret: &str) {
        static MANAGERS: AtomicU32 = AtomicU32::new(0);
        let token = self
            .secret_token(secret)
            .expect("the token Secret the manager mounts");
        let client = GitlabClient::new(ClientConfig::new(
            self.gitlab.url(),
            SecretString::from(ADMIN_TOKEN.to_owned()),
        ))
        .expect("GitLab client");
        let runner = self
            .block_on(client.verify_runner(&token))
            .expect("GitLab accepts the token in the Secret");
        let system_id = format!("r_{:012x}", MANAGERS.fetch_add(1, Ordering::Relaxed));
        self.block_on(
            self.admin()
                .add_manager(runner.id, &NewManager::online(system_id)),
        )
        .expect("manager contact");
    }

    /// Asserts that no runner token (anything `glrt-`) is in the state, `terraform show -json`,
    /// a saved plan and its JSON, or the trace log.
    pub fn assert_no_token_anywhere(&self) {
        let mut places: BTreeMap<&str, String> = BTreeMap::new();
        places.insert("state", self.dir.state_raw());
        let show = self.dir.run(&["show", "-json"]);
        show.success();
        places.insert("show -json", show.stdout.clone());
        let plan = self
            .dir
            .run(&["plan", "-out=saved.tfplan", "-input=false", "-no-color"]);
        assert!(plan.code == 0, "{plan:?}");
        places.insert("plan output", plan.output());
        let plan_file = std::fs::read(self.dir.path().join("saved.tfplan")).expect("plan file");
        places.insert(
            "plan file",
            String::from_utf8_lossy(&plan_file).into_owned(),
        );
        let plan_json = self.dir.run(&["show", "-json", "saved.tfplan"]);
        plan_json.success();
        places.insert("plan JSON", plan_json.stdout.clone());
        places.insert("trace log", self.dir.log());
        assert!(!self.dir.log().is_empty(), "the trace log was written");
        for (place, text) in places {
            if let Some(at) = token_at(&text) {
                let before: String = text[..at]
                    .chars()
                    .rev()
                    .take(160)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!("a runner token is in the {place}, after: {before:?}");
            }
        }
    }
}

/// Where a runner token (`glrt-` and at least 10 token characters, unlike the `glrt-…` of
/// descriptions) starts in `text`.
fn token_at(text: &str) -> Option<usize> {
    text.match_indices("glrt-").map(|(at, _)| at).find(|at| {
        text[at + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .count()
            >= 10
    })
}

/// `terraform plan -detailed-exitcode` must have found changes (exit 2).
#[track_caller]
pub fn expect_changes(run: &TerraformRun) {
    run.expect_code(2);
}
