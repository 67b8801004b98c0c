#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

//! The drain orchestrator (`gitlabrunner::drain::Teardown`) against both test servers, with a
//! release installed by real helm 4 from the fixture chart and uninstalled by real helm.
//!
//! Order is asserted from the request logs of both servers (same clock, millisecond stamps).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use gitlab_runner_api::CancellationToken;
use gitlab_runner_api::{ClientConfig, GitlabClient, SecretString};
use gitlab_test_server::{
    Fault, FaultRule, LoggedRequest, NewJob, NewRunner, Scope, TestServer, TokenSpec,
};
use gitlabrunner::drain::DrainReport;
use gitlabrunner::drain::{
    DrainError, DrainSettings, DrainTarget, GitlabAccess, OnDrainTimeout, Stage, Teardown,
    TeardownError,
};
use helm_driver::{
    ChartSource, HelmBinary, HelmError, HelmFailure, HelmRunner, RunOptions, Uninstall,
    UpgradeInstall,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, ListParams};
use kube_connection::{KubernetesConnection, ResolvedConnection};
use kube_test_server::{Options, RequestRecord, TestCluster};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const NAMESPACE: &str = "ci";
const JOB_NAMESPACE: &str = "jobs";
const RELEASE: &str = "runner";
const FULLNAME: &str = "runner-gitlab-runner";
const RUNNER_TOKEN: &str = "glrt-t1_AbCdEfGhIjKlMnOp";
const SHORT_TOKEN: &str = "AbCdEfGhI";
const ADMIN_TOKEN: &str = "glpat-admin-secret";
const PROJECT: u64 = 7;

fn tool(variable: &str, file: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/bin")
                .join(file)
        })
}

/// Both servers, a kube client, helm, a release installed from the fixture chart, and a runner
/// in GitLab whose token is the release's token.
struct World {
    cluster: TestCluster,
    gitlab: TestServer,
    connection: ResolvedConnection,
    client: kube::Client,
    helm: HelmRunner,
    runner_id: u64,
}

impl World {
    async fn start() -> World {
        World::start_with(Duration::from_millis(300)).await
    }

    async fn start_with(pod_termination_grace: Duration) -> World {
        let cluster = TestCluster::start(Options {
            namespaces: vec![NAMESPACE.into(), JOB_NAMESPACE.into()],
            ready_delay: Duration::from_millis(50),
            pod_termination_grace,
            ..Options::default()
        })
        .unwrap();
        let connection = KubernetesConnection {
            config_path: Some(cluster.kubeconfig_path().to_string_lossy().into_owned()),
            ..KubernetesConnection::default()
        }
        .resolve(&|_| None)
        .unwrap();
        let client = connection.client().await.unwrap();
        let helm = HelmRunner::new(HelmBinary::detect(Some(&tool("HELM4_BIN", "helm"))).unwrap());
        let gitlab = TestServer::start().await.unwrap();
        let admin = gitlab.admin();
        admin
            .add_token(&TokenSpec::admin("root", ADMIN_TOKEN))
            .await
            .unwrap();
        let runner = admin
            .create_runner(&NewRunner {
                token: Some(RUNNER_TOKEN.into()),
                description: "k8s".into(),
                ..NewRunner::default()
            })
            .await
            .unwrap();
        let world = World {
            cluster,
            gitlab,
            connection,
            client,
            helm,
            runner_id: runner.id,
        };
        world.install().await;
        world.wait_for_manager_pods(1).await;
        world.cluster.admin().clear_requests().unwrap();
        world.gitlab.admin().clear_requests().await.unwrap();
        world
    }

    async fn install(&self) {
        let values = format!(
            "gitlabUrl: {}\nrunnerToken: {RUNNER_TOKEN}\nrbac:\n  create: true\nunregisterRunners: false\nrunners:\n  name: k8s\n",
            self.gitlab.url()
        );
        let request = UpgradeInstall::new(
            RELEASE,
            NAMESPACE,
            ChartSource::Local {
                path: Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/gitlab-runner"),
            },
        );
        let mut options = RunOptions::new(Duration::from_secs(120));
        options.secrets.push(RUNNER_TOKEN.into());
        self.helm
            .upgrade_install(&self.connection, &request, &values, &options)
            .await
            .unwrap();
    }

    fn gitlab_access(&self, token: &str) -> GitlabAccess {
        let client = GitlabClient::new(ClientConfig::new(
            self.gitlab.url(),
            SecretString::from(token.to_owned()),
        ))
        .unwrap();
        GitlabAccess::new(client)
    }

    fn teardown(&self, gitlab: Option<GitlabAccess>, settings: DrainSettings) -> Teardown {
        Teardown {
            kube: self.client.clone(),
            gitlab,
            target: DrainTarget {
                job_namespace: Some(JOB_NAMESPACE.into()),
                runner_name: Some("k8s".into()),
                ..DrainTarget::new(RELEASE, NAMESPACE)
            },
            settings,
            cancel: CancellationToken::new(),
            deadline: Instant::now() + Duration::from_secs(60),
        }
    }

    /// The whole teardown with real `helm uninstall` as the uninstall step (which these tests
    /// expect to succeed: a failed uninstall panics).
    async fn destroy(&self, teardown: &Teardown) -> Result<DrainReport, DrainError> {
        destroy_with(teardown.clone(), self.helm.clone(), self.connection.clone()).await
    }

    /// [`World::destroy`] on its own task.
    fn spawn_destroy(&self, teardown: &Teardown) -> JoinHandle<Result<DrainReport, DrainError>> {
        tokio::spawn(destroy_with(
            teardown.clone(),
            self.helm.clone(),
            self.connection.clone(),
        ))
    }

    /// A running job in GitLab and its job pod (labelled and annotated as the runner does).
    async fn start_job(&self, pod: &str) -> u64 {
        let job = self
            .gitlab
            .admin()
            .start_job(self.runner_id, &NewJob::running(PROJECT, "build"))
            .await
            .unwrap();
        self.create_job_pod(pod, Some(job.id), &job.web_url);
        job.id
    }

    fn create_job_pod(&self, pod: &str, job_id: Option<u64>, url: &str) {
        let labels: BTreeMap<String, String> = [
            ("manager.runner.gitlab.com/id-short", SHORT_TOKEN),
            ("manager.runner.gitlab.com/name", "k8s"),
            ("project.runner.gitlab.com/id", "7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut annotations =
            BTreeMap::from([("job.runner.gitlab.com/url".to_owned(), url.to_owned())]);
        if let Some(id) = job_id {
            annotations.insert("job.runner.gitlab.com/id".into(), id.to_string());
        }
        self.cluster
            .admin()
            .create_object(&json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": JOB_NAMESPACE, "labels": labels, "annotations": annotations},
                "spec": {"containers": [{"name": "build", "image": "alpine:3"}]},
                "status": {"phase": "Running"},
            }))
            .unwrap();
    }

    /// Ends a job in GitLab and its pod; returns when it happened.
    async fn finish_job(&self, job_id: u64, pod: &str) -> SystemTime {
        let at = SystemTime::now();
        self.gitlab.admin().finish_job(job_id).await.unwrap();
        self.cluster
            .admin()
            .set_pod_phase(JOB_NAMESPACE, pod, "Succeeded")
            .unwrap();
        at
    }

    async fn runner_paused(&self) -> bool {
        self.gitlab
            .admin()
            .runner(self.runner_id)
            .await
            .unwrap()
            .expect("runner exists")
            .paused
    }

    async fn runner_exists(&self) -> bool {
        self.gitlab
            .admin()
            .runner(self.runner_id)
            .await
            .unwrap()
            .is_some()
    }

    async fn manager_replicas(&self) -> Option<i32> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.get_opt(FULLNAME)
            .await
            .unwrap()
            .and_then(|d| d.spec.and_then(|s| s.replicas))
    }

    async fn role_exists(&self) -> bool {
        let api: Api<Role> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.get_opt(FULLNAME).await.unwrap().is_some()
    }

    async fn release_installed(&self) -> bool {
        helm_driver::read_latest_release(&self.client, NAMESPACE, RELEASE)
            .await
            .unwrap()
            .is_some()
    }

    async fn manager_pod_count(&self) -> usize {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), NAMESPACE);
        api.list(&ListParams::default().labels(&format!("app={FULLNAME}")))
            .await
            .unwrap()
            .items
            .len()
    }

    async fn wait_for_manager_pods(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.manager_pod_count().await != count {
            assert!(
                Instant::now() < deadline,
                "manager pods never reached {count}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kube_log(&self) -> Vec<RequestRecord> {
        self.cluster.admin().requests().unwrap()
    }

    fn gitlab_log(&self) -> Vec<LoggedRequest> {
        self.gitlab.request_log()
    }
}

async fn destroy_with(
    teardown: Teardown,
    helm: HelmRunner,
    connection: ResolvedConnection,
) -> Result<DrainReport, DrainError> {
    let outcome = teardown.run(|| helm_uninstall(helm, connection)).await;
    outcome.map_err(|error| match error {
        TeardownError::Drain(error) => error,
        TeardownError::Uninstall { source, .. } => panic!("helm uninstall failed: {source}"),
    })
}

/// Real `helm uninstall` of the release through `connection`.
async fn helm_uninstall(helm: HelmRunner, connection: ResolvedConnection) -> Result<(), HelmError> {
    let request = Uninstall {
        release: RELEASE.into(),
        namespace: NAMESPACE.into(),
        wait: false,
        timeout: None,
        cascade: None,
    };
    helm.uninstall(
        &connection,
        &request,
        &RunOptions::new(Duration::from_secs(60)),
    )
    .await
    .map(|_| ())
}

fn stamp(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn first_kube(log: &[RequestRecord], method: &str, path_contains: &str) -> Option<DateTime<Utc>> {
    log.iter()
        .find(|r| r.method == method && r.path.contains(path_contains))
        .map(|r| stamp(&r.timestamp))
}

fn first_gitlab(log: &[LoggedRequest], method: &str, path: &str) -> Option<DateTime<Utc>> {
    log.iter()
        .find(|r| r.method == method && r.path == path && r.status.is_some_and(|s| s < 300))
        .map(|r| stamp(&r.at))
}

fn deletes(log: &[RequestRecord]) -> Vec<String> {
    log.iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect()
}

fn settings(drain_timeout: Duration) -> DrainSettings {
    DrainSettings {
        drain_timeout,
        ..DrainSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_pauses_first_waits_for_the_job_and_stops_the_manager_before_rbac_goes() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start_with(Duration::from_millis(800)).await;
    let job = world
        .start_job("runner-abcdefghi-project-7-concurrent-0-aaaa")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_secs(30)),
    );

    let running = world.spawn_destroy(&teardown);

    // While the job runs: paused, release and manager untouched.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(world.runner_paused().await, "the runner is paused first");
    assert!(world.release_installed().await);
    assert_eq!(world.manager_replicas().await, Some(1));
    assert!(!running.is_finished(), "the teardown waits for the job");
    assert!(
        deletes(&world.kube_log()).is_empty(),
        "nothing deleted while the job runs"
    );

    // Record when the manager's pods are gone, as an outside observer.
    let observer = tokio::spawn({
        let client = world.client.clone();
        async move {
            let api: Api<Pod> = Api::namespaced(client, NAMESPACE);
            loop {
                let pods = api
                    .list(&ListParams::default().labels(&format!("app={FULLNAME}")))
                    .await
                    .unwrap();
                if pods.items.is_empty() {
                    return Utc::now();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let finished_at: DateTime<Utc> = world
        .finish_job(job, "runner-abcdefghi-project-7-concurrent-0-aaaa")
        .await
        .into();
    let report = running.await.unwrap().unwrap();
    let manager_gone_at = observer.await.unwrap();

    assert_eq!(report.runner_id, Some(world.runner_id));
    assert!(!report.forced);
    assert!(!world.release_installed().await);
    assert!(world.runner_paused().await, "kept runner stays paused");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.summary == "GitLab Runner Left Paused"),
        "{:?}",
        report.warnings
    );

    let gitlab_log = world.gitlab_log();
    let kube_log = world.kube_log();
    let paused_at = first_gitlab(
        &gitlab_log,
        "PUT",
        &format!("/api/v4/runners/{}", world.runner_id),
    )
    .expect("runner paused");
    let scaled_at = first_kube(
        &kube_log,
        "PATCH",
        &format!("/deployments/{FULLNAME}/scale"),
    )
    .expect("scaled to 0");
    let role_deleted_at =
        first_kube(&kube_log, "DELETE", &format!("/roles/{FULLNAME}")).expect("role deleted");
    let binding_deleted_at = first_kube(&kube_log, "DELETE", &format!("/rolebindings/{FULLNAME}"))
        .expect("rolebinding deleted");
    let account_deleted_at =
        first_kube(&kube_log, "DELETE", &format!("/serviceaccounts/{FULLNAME}"))
            .expect("serviceaccount deleted");
    let deployment_deleted_at =
        first_kube(&kube_log, "DELETE", &format!("/deployments/{FULLNAME}"))
            .expect("deployment deleted");

    assert!(
        paused_at < finished_at,
        "paused ({paused_at}) before the job ended ({finished_at})"
    );
    assert!(
        finished_at <= scaled_at,
        "scaled ({scaled_at}) only after the job ended ({finished_at})"
    );
    assert!(
        scaled_at - finished_at < chrono::Duration::milliseconds(2000),
        "teardown went on within 2 s of the job ending ({})",
        scaled_at - finished_at
    );
    assert!(
        manager_gone_at <= role_deleted_at,
        "manager pods gone ({manager_gone_at}) before the Role went ({role_deleted_at})"
    );
    for (what, at) in [
        ("Role", role_deleted_at),
        ("RoleBinding", binding_deleted_at),
        ("ServiceAccount", account_deleted_at),
        ("Deployment", deployment_deleted_at),
    ] {
        assert!(
            scaled_at + chrono::Duration::milliseconds(700) <= at,
            "{what} deleted ({at}) only after the manager's pods had {}ms to terminate after the scale ({scaled_at})",
            700
        );
    }
    // The secret value never reaches the GitLab request log.
    assert!(!format!("{gitlab_log:?}").contains(RUNNER_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_fails_listing_the_job_and_leaves_release_rbac_and_paused_runner() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let job = world
        .start_job("runner-abcdefghi-project-7-concurrent-0-bbbb")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_millis(1500)),
    );

    let started = Instant::now();
    let error = world.destroy(&teardown).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(started.elapsed() < Duration::from_secs(10));
    let diagnostic = error.message();
    assert_eq!(diagnostic.summary, "Runner Drain Timed Out");
    assert!(
        diagnostic
            .detail
            .contains(&format!("job #{job} build (group/project-7)")),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains(&format!("/-/jobs/{job}")),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains("Nothing was deleted"),
        "{}",
        diagnostic.detail
    );
    match &error {
        DrainError::DrainTimedOut {
            runner_id,
            still_running,
            ..
        } => {
            assert_eq!(*runner_id, Some(world.runner_id));
            assert_eq!(still_running.gitlab_jobs.len(), 1);
            assert_eq!(still_running.pods.len(), 1);
            assert_eq!(still_running.count(), 1, "the job and its pod are one job");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(world.release_installed().await);
    assert!(world.role_exists().await);
    assert_eq!(world.manager_replicas().await, Some(1));
    assert!(world.runner_paused().await);
    let log = world.kube_log();
    assert!(deletes(&log).is_empty(), "{:?}", deletes(&log));
    assert!(first_kube(&log, "PATCH", "/scale").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_on_drain_timeout_cuts_the_job_off_with_a_warning() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    world
        .start_job("runner-abcdefghi-project-7-concurrent-0-cccc")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        DrainSettings {
            drain_timeout: Duration::from_millis(800),
            on_drain_timeout: OnDrainTimeout::Force,
            ..DrainSettings::default()
        },
    );
    let report = world.destroy(&teardown).await.unwrap();
    assert!(report.forced);
    let warning = report
        .warnings
        .iter()
        .find(|w| w.summary == "Running Jobs Cut Off")
        .expect("warning");
    assert!(
        warning.detail.contains("build (group/project-7)"),
        "{}",
        warning.detail
    );
    assert!(!world.release_installed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gitlab_access_the_job_pods_alone_hold_the_drain() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    world.create_job_pod(
        "runner-abcdefghi-project-7-concurrent-0-dddd",
        Some(99),
        "https://gitlab.example.com/a/b/-/jobs/99",
    );
    let teardown = world.teardown(None, settings(Duration::from_secs(30)));
    let running = world.spawn_destroy(&teardown);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!running.is_finished(), "the job pod holds the drain");
    assert_eq!(world.manager_replicas().await, Some(1));
    world
        .cluster
        .admin()
        .set_pod_phase(
            JOB_NAMESPACE,
            "runner-abcdefghi-project-7-concurrent-0-dddd",
            "Failed",
        )
        .unwrap();
    let report = running.await.unwrap().unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.summary == "Draining Without GitLab Access"),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.runner_id, None);
    assert!(!world.release_installed().await);
    assert!(world.gitlab_log().is_empty(), "GitLab is not contacted");
    assert!(!world.runner_paused().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_hidden_from_a_non_admin_token_still_hold_the_drain_through_their_pods() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let mut developer = TokenSpec::user("dev", "glpat-dev-secret", &[Scope::ManageRunner]);
    developer.runners = vec![world.runner_id];
    world.gitlab.admin().add_token(&developer).await.unwrap();
    let job = world
        .start_job("runner-abcdefghi-project-7-concurrent-0-eeee")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access("glpat-dev-secret")),
        settings(Duration::from_millis(1500)),
    );

    let error = world.destroy(&teardown).await.unwrap_err();
    match &error {
        DrainError::DrainTimedOut { still_running, .. } => {
            assert!(
                still_running.gitlab_jobs.is_empty(),
                "GitLab hides the job from this token"
            );
            assert_eq!(still_running.pods.len(), 1);
            assert_eq!(still_running.pods[0].job_id, Some(job));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(world.runner_paused().await);
    assert!(world.release_installed().await);

    // The token's listing really was empty while the job ran.
    let listed = world.gitlab_log().iter().any(|r| {
        r.path == format!("/api/v4/runners/{}/jobs", world.runner_id)
            && r.token_name.as_deref() == Some("dev")
    });
    assert!(listed);

    // Once the pod ends, the drain goes through, warning about the token.
    world
        .finish_job(job, "runner-abcdefghi-project-7-concurrent-0-eeee")
        .await;
    let report = world.destroy(&teardown).await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.summary == "GitLab Token May Not See Every Job"),
        "{:?}",
        report.warnings
    );
    assert!(!world.release_installed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_5xx_429_and_dropped_connections_are_retried_at_every_step() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let admin = world.gitlab.admin();
    let runner_path = format!("/api/v4/runners/{}", world.runner_id);
    for rule in [
        FaultRule::new(
            "POST",
            "/api/v4/runners/verify",
            1,
            Fault::Status {
                code: 502,
                body: None,
            },
        ),
        FaultRule::new(
            "PUT",
            runner_path.clone(),
            2,
            Fault::Status {
                code: 503,
                body: None,
            },
        ),
        FaultRule::new(
            "GET",
            format!("{runner_path}/jobs"),
            1,
            Fault::RateLimit {
                retry_after_secs: 1,
            },
        ),
        FaultRule::new(
            "GET",
            format!("{runner_path}/jobs"),
            1,
            Fault::DropConnection,
        ),
        FaultRule::new(
            "DELETE",
            runner_path.clone(),
            1,
            Fault::Status {
                code: 500,
                body: None,
            },
        ),
    ] {
        admin.add_fault(&rule).await.unwrap();
    }
    world
        .cluster
        .admin()
        .inject_fault(&kube_test_server::Fault {
            user_agent: None,
            method: Some("PATCH".into()),
            path: format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{FULLNAME}/scale"),
            count: 2,
            action: kube_test_server::FaultAction::Status {
                code: 500,
                message: None,
            },
        })
        .unwrap();
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        DrainSettings {
            delete_runner_on_destroy: true,
            ..settings(Duration::from_secs(30))
        },
    );
    let report = world.destroy(&teardown).await.unwrap();
    assert!(report.runner_deleted);
    assert!(!world.runner_exists().await);
    assert!(!world.release_installed().await);
    let log = world.gitlab_log();
    let faulted = log.iter().filter(|r| r.fault.is_some()).count();
    assert_eq!(
        faulted, 6,
        "every injected GitLab fault was hit and retried past: {log:#?}"
    );
    let scale_attempts = world
        .kube_log()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/scale"))
        .count();
    assert_eq!(scale_attempts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_gitlab_token_stops_with_a_clear_message_before_anything_changes() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let teardown = world.teardown(
        Some(world.gitlab_access("glpat-revoked")),
        DrainSettings {
            runner_id: Some(world.runner_id),
            ..settings(Duration::from_secs(30))
        },
    );
    let error = world.destroy(&teardown).await.unwrap_err();
    let diagnostic = error.message();
    assert_eq!(diagnostic.summary, "GitLab Request Failed During Drain");
    assert!(
        diagnostic.detail.contains("401 Unauthorized"),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains("Fix the GitLab token"),
        "{}",
        diagnostic.detail
    );
    assert!(!diagnostic.detail.contains("glpat-revoked"));
    assert!(matches!(
        error,
        DrainError::Gitlab {
            stage: Stage::Pause,
            ..
        }
    ));
    let attempts = world.gitlab_log().len();
    assert_eq!(attempts, 1, "401 is not retried");
    assert!(world.release_installed().await);
    assert!(deletes(&world.kube_log()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_already_deleted_in_gitlab_is_not_an_error() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    world
        .gitlab
        .admin()
        .delete_runner(world.runner_id)
        .await
        .unwrap();
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        DrainSettings {
            delete_runner_on_destroy: true,
            runner_id: Some(world.runner_id),
            ..settings(Duration::from_secs(30))
        },
    );
    let report = world.destroy(&teardown).await.unwrap();
    assert!(report.runner_deleted);
    assert!(!world.release_installed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_destroy_leaves_release_and_paused_runner_and_the_next_one_resumes() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let job = world
        .start_job("runner-abcdefghi-project-7-concurrent-0-ffff")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_secs(30)),
    );
    let cancel = teardown.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let error = world.destroy(&teardown).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "stops promptly");
    assert!(
        matches!(
            error,
            DrainError::Cancelled {
                stage: Stage::Drain,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.message().summary, "Release Teardown Interrupted");
    assert!(world.release_installed().await);
    assert!(world.role_exists().await);
    assert_eq!(world.manager_replicas().await, Some(1));
    assert!(world.runner_paused().await);

    let second = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_secs(30)),
    );
    let finisher = tokio::spawn({
        let admin = world.gitlab.admin();
        let kube_admin = world.cluster.admin();
        async move {
            tokio::time::sleep(Duration::from_millis(800)).await;
            admin.finish_job(job).await.unwrap();
            kube_admin
                .set_pod_phase(
                    JOB_NAMESPACE,
                    "runner-abcdefghi-project-7-concurrent-0-ffff",
                    "Succeeded",
                )
                .unwrap();
        }
    });
    let report = world.destroy(&second).await.unwrap();
    finisher.await.unwrap();
    assert_eq!(report.runner_id, Some(world.runner_id));
    assert!(!world.release_installed().await);
    assert!(world.runner_paused().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_on_update_pauses_waits_and_resumes_after_the_upgrade() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    let job = world
        .start_job("runner-abcdefghi-project-7-concurrent-0-gggg")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_secs(30)),
    );
    let finisher = tokio::spawn({
        let admin = world.gitlab.admin();
        let kube_admin = world.cluster.admin();
        async move {
            tokio::time::sleep(Duration::from_millis(800)).await;
            admin.finish_job(job).await.unwrap();
            kube_admin
                .set_pod_phase(
                    JOB_NAMESPACE,
                    "runner-abcdefghi-project-7-concurrent-0-gggg",
                    "Succeeded",
                )
                .unwrap();
        }
    });
    let drained = teardown.drain_for_update().await.unwrap();
    finisher.await.unwrap();
    assert!(world.runner_paused().await, "paused during the upgrade");
    world.install().await; // the upgrade
    teardown.resume_after_update(drained).await.unwrap();
    assert!(!world.runner_paused().await, "resumed after the upgrade");
    assert!(world.release_installed().await);
    assert_eq!(
        world.manager_replicas().await,
        Some(1),
        "an update never scales the manager down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_drain_before_an_upgrade_resumes_the_runner() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fabricated job pods, request log); the default run covers it"
    );
    let world = World::start().await;
    world
        .start_job("runner-abcdefghi-project-7-concurrent-0-hhhh")
        .await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_millis(700)),
    );
    let error = teardown.drain_for_update().await.unwrap_err();
    assert!(
        matches!(error, DrainError::DrainTimedOut { .. }),
        "{error:?}"
    );
    assert!(!world.runner_paused().await, "the runner takes jobs again");
}

/// `Teardown::run` returns the uninstall step's own error, typed (here helm's, classified), with
/// the state the drain left: the manager stopped, the runner paused, the release still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_uninstall_comes_back_as_helms_own_typed_error() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (request log); the default run covers it"
    );
    let world = World::start().await;
    let teardown = world.teardown(
        Some(world.gitlab_access(ADMIN_TOKEN)),
        settings(Duration::from_secs(30)),
    );
    let unreachable = KubernetesConnection {
        host: Some("https://127.0.0.1:1".into()),
        token: Some("t".into()),
        ..KubernetesConnection::default()
    }
    .resolve(&|_| None)
    .unwrap();

    let error = teardown
        .run(|| helm_uninstall(world.helm.clone(), unreachable))
        .await
        .unwrap_err();

    let TeardownError::Uninstall { release, source } = &error else {
        panic!("expected the uninstall's error, got {error:?}");
    };
    assert_eq!(release, &format!("{NAMESPACE}/{RELEASE}"));
    assert_eq!(
        source.failure(),
        Some(HelmFailure::ClusterUnreachable),
        "{source}"
    );
    let message = error.message();
    assert_eq!(message.summary, "Release Uninstall Failed");
    assert!(
        message.detail.contains(&source.to_string())
            && message
                .detail
                .contains("The runner manager is stopped and the runner paused"),
        "{}",
        message.detail
    );
    assert_eq!(world.manager_replicas().await, Some(0));
    assert!(world.runner_paused().await);
}
