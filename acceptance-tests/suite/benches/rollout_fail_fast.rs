#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

//! Fail-fast latency (issue 15): how long after a rollout's terminal cause shows in the
//! Kubernetes API does the release's rollout watch report it?
//!
//! For each cause, real helm 4 runs `upgrade --install --wait` of the fixture chart against the
//! Kubernetes API test server while `gitlabrunner::kube::rollout::watch_rollout` watches beside
//! it (as the release's apply does). A separate watch in this benchmark notes the moment the
//! cause first appears (the ReplicaSet's `ReplicaFailure`, the pod's waiting reason or
//! `PodScheduled=False`, the `FailedMount` Event); the figure is the time from then to the
//! watch's answer. Unschedulable pods and missing volumes include the watch's 2 s persistence
//! window on purpose. Target: under 5 s for each cause.
//!
//! `cargo bench -p acceptance --bench rollout_fail_fast` (needs helm 4 in tools/bin or
//! HELM4_BIN). Exits non-zero when a cause misses the target.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use gitlabrunner::kube::rollout::{StuckRollout, watch_rollout};
use helm_driver::{ChartSource, HelmBinary, HelmRunner, RunOptions, UpgradeInstall};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::Api;
use kube::runtime::watcher;
use kube_connection::KubernetesConnection;
use kube_test_server::{ImageBehaviour, Options, TestCluster};
use serde_json::json;
use tokio::time::Instant;

const NAMESPACE: &str = "ci";
const RELEASE: &str = "runner";
const TARGET: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
enum Cause {
    MissingServiceAccount,
    Quota,
    ImagePull,
    CrashLoop,
    Unschedulable,
    MissingVolume,
}

const CAUSES: [Cause; 6] = [
    Cause::MissingServiceAccount,
    Cause::Quota,
    Cause::ImagePull,
    Cause::CrashLoop,
    Cause::Unschedulable,
    Cause::MissingVolume,
];

fn helm_path() -> PathBuf {
    std::env::var_os("HELM4_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/helm"))
}

fn values(cause: Cause) -> String {
    let base = "gitlabUrl: https://gitlab.example.com\nrunnerToken: glrt-t1_BenchBenchBench\nrbac:\n  create: true\n";
    let extra = match cause {
        Cause::MissingServiceAccount => {
            "serviceAccount:\n  create: false\n  name: missing\nrbac:\n  create: false\n"
        }
        Cause::Quota => "",
        Cause::ImagePull => "image:\n  registry: registry.k8s.io\n  image: pause\n  tag: nope\n",
        Cause::CrashLoop => {
            "image:\n  registry: registry.example.com\n  image: crasher\n  tag: \"1\"\n"
        }
        Cause::Unschedulable => "nodeSelector:\n  disk: none\n",
        Cause::MissingVolume => "certsSecretName: missing-certs\n",
    };
    // A later key wins in YAML maps for helm; keep `rbac` once by putting the override last.
    if extra.contains("rbac:") {
        format!(
            "gitlabUrl: https://gitlab.example.com\nrunnerToken: glrt-t1_BenchBenchBench\n{extra}"
        )
    } else {
        format!("{base}{extra}")
    }
}

/// The moment the cause first shows in the API, seen through this benchmark's own watches.
async fn cause_appears(client: kube::Client) -> Instant {
    let rs = watcher::watcher(
        Api::<ReplicaSet>::namespaced(client.clone(), NAMESPACE),
        watcher::Config::default(),
    )
    .map(|e| match e {
        Ok(watcher::Event::Apply(rs) | watcher::Event::InitApply(rs)) => rs
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "ReplicaFailure")),
        _ => false,
    })
    .boxed();
    let pods = watcher::watcher(
        Api::<Pod>::namespaced(client.clone(), NAMESPACE),
        watcher::Config::default(),
    )
    .map(|e| match e {
        Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
            let status = pod.status.unwrap_or_default();
            let unschedulable = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False");
            let waiting = status.container_statuses.iter().flatten().any(|s| {
                s.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    .is_some_and(|r| {
                        matches!(r, "ErrImagePull" | "ImagePullBackOff" | "CrashLoopBackOff")
                    })
            });
            unschedulable || waiting
        }
        _ => false,
    })
    .boxed();
    let events = watcher::watcher(
        Api::<Event>::namespaced(client, NAMESPACE),
        watcher::Config::default(),
    )
    .map(|e| match e {
        Ok(watcher::Event::Apply(event) | watcher::Event::InitApply(event)) => {
            event.reason.as_deref() == Some("FailedMount")
        }
        _ => false,
    })
    .boxed();
    let mut all = futures::stream::select_all([rs, pods, events]);
    while let Some(hit) = all.next().await {
        if hit {
            return Instant::now();
        }
    }
    Instant::now()
}

async fn measure(cause: Cause) -> (Duration, Duration, StuckRollout) {
    let cluster = TestCluster::start(Options {
        namespaces: vec![NAMESPACE.into()],
        ..Options::default()
    })
    .unwrap();
    let admin = cluster.admin();
    match cause {
        Cause::Quota => {
            admin
                .create_object(&json!({
                    "apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "nopods", "namespace": NAMESPACE},
                    "spec": {"hard": {"pods": "0"}},
                }))
                .unwrap();
        }
        Cause::MissingVolume => admin.set_check_volumes(true).unwrap(),
        Cause::ImagePull => admin
            .set_image("registry.k8s.io/pause:nope", &ImageBehaviour::PullFails)
            .unwrap(),
        Cause::CrashLoop => admin
            .set_image(
                "registry.example.com/crasher:1",
                &ImageBehaviour::Crashes {
                    logs: vec!["FATAL: bench".into()],
                    exit_code: 1,
                },
            )
            .unwrap(),
        _ => {}
    }
    let connection = KubernetesConnection {
        config_path: Some(cluster.kubeconfig_path().to_string_lossy().into_owned()),
        ..KubernetesConnection::default()
    }
    .resolve(&|_| None)
    .unwrap();
    let client = connection.client().await.unwrap();
    let seen = tokio::spawn(cause_appears(client.clone()));
    let watch = tokio::spawn({
        let client = client.clone();
        async move {
            let found = watch_rollout(client, NAMESPACE, RELEASE).await;
            (Instant::now(), found)
        }
    });
    let helm = HelmRunner::new(HelmBinary::detect(Some(&helm_path())).unwrap());
    let mut request = UpgradeInstall::new(
        RELEASE,
        NAMESPACE,
        ChartSource::Local {
            path: Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/gitlab-runner"),
        },
    );
    request.wait = true;
    request.timeout = Some(Duration::from_secs(60));
    let options = RunOptions::new(Duration::from_secs(90));
    let cancel = options.cancel.clone();
    let values = values(cause);
    let started = Instant::now();
    let upgrade = tokio::spawn(async move {
        helm.upgrade_install(&connection, &request, &values, &options)
            .await
    });
    let (answered, found) = watch.await.unwrap();
    let appeared = seen.await.unwrap();
    cancel.cancel();
    let _ = upgrade.await;
    // Both watches see the same API event; when this one's is handled later the latency is 0.
    (
        answered.saturating_duration_since(appeared),
        answered.duration_since(started),
        found.expect("the watch found the cause"),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let smoke = std::env::args().any(|a| a == "--test" || a == "--list");
    if smoke && std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut missed = false;
    println!(
        "fail-fast latency: terminal cause in the API -> rollout watch's answer (target < {TARGET:?})"
    );
    for cause in CAUSES {
        let (latency, total, found) = measure(cause).await;
        let verdict = if latency < TARGET { "ok" } else { "MISSED" };
        missed |= latency >= TARGET;
        let what = format!("{found:?}");
        let what: String = what.chars().take(90).collect();
        println!(
            "  {cause:?}: {} ms after the cause ({} ms after helm started)  {verdict}  ({what}…)",
            latency.as_millis(),
            total.as_millis()
        );
    }
    if missed {
        std::process::exit(1);
    }
}
