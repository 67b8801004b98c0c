#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

//! Drain latency: how long after the last running job finishes does the teardown go on?
//!
//! Measured from the moment the test finishes the last job (in GitLab, or its pod) to the
//! scale-down request (`PATCH …/deployments/<manager>/scale`) in the Kubernetes API test server's
//! request log. Target: under 2 s. Two cases, because the two sources are followed differently:
//! the job pod ending last (seen through a watch) and the GitLab job ending last (seen by
//! polling, 250 ms growing to 1 s).
//!
//! `cargo bench -p acceptance --bench drain_latency` (needs helm 4 in tools/bin or HELM4_BIN).
//! Exits non-zero when a measurement misses the target.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gitlab_runner_api::{CancellationToken, ClientConfig, GitlabClient, SecretString};
use gitlab_test_server::{NewJob, NewRunner, TestServer, TokenSpec};
use gitlabrunner::drain::{DrainSettings, DrainTarget, GitlabAccess, Teardown};
use helm_driver::{ChartSource, HelmBinary, HelmRunner, RunOptions, UpgradeInstall};
use kube_connection::KubernetesConnection;
use kube_test_server::{Options, TestCluster};
use serde_json::json;
use tokio::time::Instant;

const NAMESPACE: &str = "ci";
const JOB_NAMESPACE: &str = "jobs";
const RUNNER_TOKEN: &str = "glrt-t1_BenchBenchBench";
const SHORT_TOKEN: &str = "BenchBenc";
const ADMIN_TOKEN: &str = "glpat-bench-admin";
const ROUNDS: usize = 5;
const TARGET: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum LastToFinish {
    JobPod,
    GitlabJob,
}

fn helm_path() -> PathBuf {
    std::env::var_os("HELM4_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/helm"))
}

/// One measurement on a fresh pair of servers: milliseconds from the last job finishing to the
/// scale-down request. `offset` shifts the moment the last job ends.
async fn measure(last: LastToFinish, offset: Duration) -> i64 {
    let cluster = TestCluster::start(Options {
        namespaces: vec![NAMESPACE.into(), JOB_NAMESPACE.into()],
        ready_delay: Duration::from_millis(20),
        pod_termination_grace: Duration::from_millis(50),
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
    let gitlab = TestServer::start().await.unwrap();
    let admin = gitlab.admin();
    admin
        .add_token(&TokenSpec::admin("root", ADMIN_TOKEN))
        .await
        .unwrap();
    let runner = admin
        .create_runner(&NewRunner {
            token: Some(RUNNER_TOKEN.into()),
            ..NewRunner::default()
        })
        .await
        .unwrap();

    let helm = HelmRunner::new(HelmBinary::detect(Some(&helm_path())).unwrap());
    let mut options = RunOptions::new(Duration::from_secs(120));
    options.secrets.push(RUNNER_TOKEN.into());
    let values = format!(
        "gitlabUrl: {}\nrunnerToken: {RUNNER_TOKEN}\nrbac:\n  create: true\n",
        gitlab.url()
    );
    let chart = ChartSource::Local {
        path: Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/gitlab-runner"),
    };
    helm.upgrade_install(
        &connection,
        &UpgradeInstall::new("runner", NAMESPACE, chart),
        &values,
        &options,
    )
    .await
    .unwrap();

    let job = admin
        .start_job(runner.id, &NewJob::running(7, "build"))
        .await
        .unwrap();
    let kube_admin = cluster.admin();
    kube_admin
        .create_object(&json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "job-pod", "namespace": JOB_NAMESPACE,
                "labels": {"manager.runner.gitlab.com/id-short": SHORT_TOKEN},
                "annotations": {"job.runner.gitlab.com/id": job.id.to_string()},
            },
            "spec": {"containers": [{"name": "build", "image": "alpine:3"}]},
            "status": {"phase": "Running"},
        }))
        .unwrap();

    let access = GitlabAccess::new(
        GitlabClient::new(ClientConfig::new(
            gitlab.url(),
            SecretString::from(ADMIN_TOKEN.to_owned()),
        ))
        .unwrap(),
    );
    let teardown = Teardown {
        kube: client,
        gitlab: Some(access),
        target: DrainTarget {
            job_namespace: Some(JOB_NAMESPACE.into()),
            ..DrainTarget::new("runner", NAMESPACE)
        },
        settings: DrainSettings::default(),
        cancel: CancellationToken::new(),
        deadline: Instant::now() + Duration::from_secs(60),
    };
    let drain = tokio::spawn(async move { teardown.before_uninstall().await.map(|_| ()) });

    // Let the drain settle into waiting (paused, polling, watching) for a while first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let finished_at: DateTime<Utc> = match last {
        LastToFinish::JobPod => {
            admin.finish_job(job.id).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1500) + offset).await;
            let at = Utc::now();
            kube_admin
                .set_pod_phase(JOB_NAMESPACE, "job-pod", "Succeeded")
                .unwrap();
            at
        }
        LastToFinish::GitlabJob => {
            kube_admin
                .set_pod_phase(JOB_NAMESPACE, "job-pod", "Succeeded")
                .unwrap();
            tokio::time::sleep(Duration::from_millis(1500) + offset).await;
            let at = Utc::now();
            admin.finish_job(job.id).await.unwrap();
            at
        }
    };
    drain.await.unwrap().unwrap();
    let scaled_at = kube_admin
        .requests()
        .unwrap()
        .iter()
        .find(|r| r.method == "PATCH" && r.path.ends_with("/scale"))
        .map(|r| {
            DateTime::parse_from_rfc3339(&r.timestamp)
                .unwrap()
                .with_timezone(&Utc)
        })
        .expect("the manager was scaled down");
    let polls: Vec<DateTime<Utc>> = gitlab
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/jobs") && r.method == "GET")
        .map(|r| {
            DateTime::parse_from_rfc3339(&r.at)
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    let gaps: Vec<i64> = polls
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).num_milliseconds())
        .collect();
    println!("    GitLab job polls: {}, gaps (ms): {gaps:?}", polls.len());
    (scaled_at - finished_at).num_milliseconds()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut missed = false;
    for last in [LastToFinish::JobPod, LastToFinish::GitlabJob] {
        // The last job ends at a different point of the GitLab polling cycle each round.
        let mut delays: Vec<i64> = (0..ROUNDS)
            .map(|round| {
                let offset = Duration::from_millis(230 * u64::try_from(round).unwrap_or(0));
                runtime.block_on(measure(last, offset))
            })
            .collect();
        println!(
            "drain latency, {last:?} finishing last (ms, job finished -> scale-down request): {delays:?}"
        );
        delays.sort_unstable();
        let max = delays[delays.len() - 1];
        println!(
            "  min {} ms, median {} ms, max {max} ms (target < {} ms)",
            delays[0],
            delays[delays.len() / 2],
            TARGET.as_millis()
        );
        if i128::from(max) >= i128::try_from(TARGET.as_millis()).unwrap_or(i128::MAX) {
            missed = true;
        }
    }
    if missed {
        println!("drain latency target missed");
        std::process::exit(1);
    }
}
