//! Watching a release's rollout for causes that waiting will not fix.
//!
//! While helm waits for a release's workloads, [`watch_rollout`] watches (kube-runtime watchers
//! feeding reflector stores, no polling) the release's helm record Secrets, its Deployments,
//! ReplicaSets and pods (label `release=<name>`, as the chart sets it) and the namespace's Warning
//! Events, and returns the first [`StuckRollout`]: a refused pod create (`ReplicaFailure`:
//! missing ServiceAccount, quota, admission), an image that cannot be pulled, a crash loop (with
//! the container's last log lines, runner tokens redacted), an unschedulable pod, or a missing
//! Secret/ConfigMap volume. A slow rollout that makes progress is never reported.
//!
//! Only the rollout helm is doing counts: a Deployment is judged once helm has recorded a newer
//! revision than the one at the start and the Deployment changed since (or [`SETTLE`] passed, for
//! an upgrade that leaves it as it was), the controller observed it, and only its newest
//! ReplicaSet's pods are looked at (an old ReplicaSet's crash loop being replaced does not count).
//! Unschedulable pods and missing volumes are reported once they persist for [`CONFIRM`] (an
//! autoscaler or a Secret another process creates may still fix them).
//!
//! The caller turns the typed result into a diagnostic (the resource edge); 401/403 on a watch
//! end that watch quietly (helm's own wait still runs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, LogParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::time::Instant;

/// How long after helm recorded its revision an unchanged Deployment is judged as it is.
pub const SETTLE: Duration = Duration::from_secs(2);
/// How long an unschedulable pod or a missing volume must persist before it is reported.
pub const CONFIRM: Duration = Duration::from_secs(2);
/// How often the persistence windows are looked at again without a watch event.
const TICK: Duration = Duration::from_millis(250);
/// How many of a crashing container's last log lines are quoted.
pub const LOG_LINES: i64 = 15;
/// How long reading those lines may take.
const LOG_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a rollout will not finish however long helm waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StuckRollout {
    /// The ReplicaSet controller's pod creates are refused (`ReplicaFailure`, reason
    /// `FailedCreate`): a missing ServiceAccount, a quota, an admission webhook or policy.
    CreateRefused {
        replica_set: String,
        message: String,
    },
    /// An image cannot be pulled (`ImagePullBackOff`, or `ErrImagePull` saying not found/denied).
    ImagePull {
        pod: String,
        container: String,
        image: String,
        reason: String,
        message: String,
    },
    /// A container keeps exiting (`CrashLoopBackOff`); `logs`: its last lines, tokens redacted.
    CrashLoop {
        pod: String,
        container: String,
        exit_code: Option<i32>,
        message: String,
        logs: Vec<String>,
    },
    /// No node can take the pod (`PodScheduled=False`, reason `Unschedulable`).
    Unschedulable { pod: String, message: String },
    /// A Secret or ConfigMap the pod mounts does not exist (`FailedMount`).
    MissingVolume { pod: String, message: String },
}

impl StuckRollout {
    /// Whether it is reported at once, or only once it persisted for [`CONFIRM`].
    fn needs_confirmation(&self) -> bool {
        matches!(
            self,
            Self::Unschedulable { .. } | Self::MissingVolume { .. }
        )
    }

    /// One key per object and cause, for the persistence window.
    fn key(&self) -> String {
        match self {
            Self::CreateRefused { replica_set, .. } => format!("rs/{replica_set}"),
            Self::ImagePull { pod, .. } | Self::CrashLoop { pod, .. } => format!("pod/{pod}"),
            Self::Unschedulable { pod, .. } => format!("unschedulable/{pod}"),
            Self::MissingVolume { pod, .. } => format!("mount/{pod}"),
        }
    }
}

/// What the watches know, from the reflectors' stores.
struct View {
    release_secrets: Store<Secret>,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    events: Store<Event>,
}

/// What was there when the watch started, to tell helm's rollout from the state before it.
#[derive(Default)]
struct Baseline {
    /// Highest helm revision at the start (`None` before the first listing arrived).
    revision: Option<Option<u64>>,
    /// Deployment uid → generation at the start.
    generations: Option<HashMap<String, i64>>,
    /// When helm's newer revision was first seen.
    helm_recorded: Option<Instant>,
}

fn highest_revision(secrets: &Store<Secret>) -> Option<u64> {
    secrets
        .state()
        .iter()
        .filter_map(|s| {
            s.labels()
                .get("version")
                .and_then(|v| v.parse::<u64>().ok())
        })
        .max()
}

/// Watches the rollout of release `release` in `namespace` until it finds a [`StuckRollout`].
/// Returns `None` when every watch ended (401/403, or the streams closed); the caller drops the
/// future to stop it (when helm finished).
pub async fn watch_rollout(
    client: kube::Client,
    namespace: &str,
    release: &str,
) -> Option<StuckRollout> {
    let selector = format!("release={release}");
    let helm_selector = format!("owner=helm,name={release}");
    let (release_secrets, secret_writer) = reflector::store();
    let (deployments, deployment_writer) = reflector::store();
    let (replica_sets, rs_writer) = reflector::store();
    let (pods, pod_writer) = reflector::store();
    let (events, event_writer) = reflector::store();
    let labelled = || watcher::Config::default().labels(&selector);
    let streams: Vec<BoxStream<'static, Kind>> = vec![
        changes(
            Kind::Secrets,
            reflector::reflector(
                secret_writer,
                watcher::watcher(
                    Api::<Secret>::namespaced(client.clone(), namespace),
                    watcher::Config::default().labels(&helm_selector),
                ),
            ),
        ),
        changes(
            Kind::Deployments,
            reflector::reflector(
                deployment_writer,
                watcher::watcher(
                    Api::<Deployment>::namespaced(client.clone(), namespace),
                    labelled(),
                ),
            ),
        ),
        changes(
            Kind::Other,
            reflector::reflector(
                rs_writer,
                watcher::watcher(
                    Api::<ReplicaSet>::namespaced(client.clone(), namespace),
                    labelled(),
                ),
            ),
        ),
        changes(
            Kind::Other,
            reflector::reflector(
                pod_writer,
                watcher::watcher(
                    Api::<Pod>::namespaced(client.clone(), namespace),
                    labelled(),
                ),
            ),
        ),
        changes(
            Kind::Other,
            reflector::reflector(
                event_writer,
                watcher::watcher(
                    Api::<Event>::namespaced(client.clone(), namespace),
                    watcher::Config::default().fields("type=Warning"),
                ),
            ),
        ),
    ];
    let view = View {
        release_secrets,
        deployments,
        replica_sets,
        pods,
        events,
    };
    let mut updates = futures::stream::select_all(streams);
    let mut baseline = Baseline::default();
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            update = updates.next() => match update {
                Some(Kind::Secrets) if baseline.revision.is_none() => {
                    baseline.revision = Some(highest_revision(&view.release_secrets));
                }
                Some(Kind::Deployments) if baseline.generations.is_none() => {
                    baseline.generations = Some(
                        view.deployments
                            .state()
                            .iter()
                            .map(|d| (d.uid().unwrap_or_default(), d.metadata.generation.unwrap_or(0)))
                            .collect(),
                    );
                }
                Some(_) => {}
                None => return None,
            },
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if baseline.helm_recorded.is_none()
            && let Some(start) = baseline.revision
            && highest_revision(&view.release_secrets) > start
        {
            baseline.helm_recorded = Some(now);
        }
        let Some(found) = judge(&view, &baseline, now) else {
            continue;
        };
        let mut keys = Vec::new();
        for stuck in found {
            let key = stuck.key();
            let since = *first_seen.entry(key.clone()).or_insert(now);
            keys.push(key);
            if !stuck.needs_confirmation() || now.duration_since(since) >= CONFIRM {
                return Some(with_logs(&client, namespace, stuck).await);
            }
        }
        first_seen.retain(|key, _| keys.contains(key));
    }
}

/// Which watch an update came from (the baseline is taken from the first listings).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Secrets,
    Deployments,
    Other,
}

/// One item per change of a reflector's watch (listing done, object applied or deleted); ends
/// the stream on 401/403, which retrying cannot fix.
fn changes<K>(
    kind: Kind,
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) -> BoxStream<'static, Kind>
where
    K: Send + 'static,
{
    stream
        .default_backoff()
        .take_while(move |result| {
            let go_on = match result {
                Err(error) if is_permanent(error) => {
                    tracing::warn!(%error, "the rollout watch cannot watch this kind; helm's own wait goes on");
                    false
                }
                _ => true,
            };
            futures::future::ready(go_on)
        })
        .filter_map(move |result| {
            futures::future::ready(match result {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) | Err(_) => None,
                Ok(_) => Some(kind),
            })
        })
        .boxed()
}

fn is_permanent(error: &watcher::Error) -> bool {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.as_ref(),
        watcher::Error::WatchError(status) => status.as_ref(),
        _ => return false,
    };
    matches!(status.code, 401 | 403)
}

/// The causes visible now in the Deployments helm is rolling out.
fn judge(view: &View, baseline: &Baseline, now: Instant) -> Option<Vec<StuckRollout>> {
    let recorded = baseline.helm_recorded?;
    let generations = baseline.generations.as_ref()?;
    let settled = now.duration_since(recorded) >= SETTLE;
    let replica_sets = view.replica_sets.state();
    let pods = view.pods.state();
    let events = view.events.state();
    let mut found = Vec::new();
    for deployment in view.deployments.state() {
        let uid = deployment.uid().unwrap_or_default();
        let generation = deployment.metadata.generation.unwrap_or(0);
        let changed = generations.get(&uid) != Some(&generation);
        let observed = deployment
            .status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .is_some_and(|g| g >= generation);
        if !(changed || settled) || !observed {
            continue;
        }
        let Some(current) = newest_replica_set(&replica_sets, &uid) else {
            continue;
        };
        if let Some(message) = replica_failure(current) {
            found.push(StuckRollout::CreateRefused {
                replica_set: current.name_any(),
                message,
            });
        }
        let rs_uid = current.uid().unwrap_or_default();
        for pod in pods
            .iter()
            .filter(|p| controller_uid(p.meta()) == Some(rs_uid.as_str()))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            found.extend(pod_causes(pod, &events));
        }
    }
    Some(found)
}

fn controller_uid(meta: &kube::api::ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

/// The Deployment's newest ReplicaSet (highest `deployment.kubernetes.io/revision`).
fn newest_replica_set<'a>(
    replica_sets: &'a [Arc<ReplicaSet>],
    deployment_uid: &str,
) -> Option<&'a ReplicaSet> {
    replica_sets
        .iter()
        .filter(|rs| controller_uid(rs.meta()) == Some(deployment_uid))
        .max_by_key(|rs| {
            rs.annotations()
                .get("deployment.kubernetes.io/revision")
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .map(AsRef::as_ref)
}

fn replica_failure(rs: &ReplicaSet) -> Option<String> {
    rs.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        .map(|c| c.message.clone().unwrap_or_default())
}

/// `ErrImagePull` messages that say the image is not there or not allowed (a rate limit or a
/// network error is worth the kubelet's retries).
fn pull_is_terminal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "not found",
        "manifest unknown",
        "unauthorized",
        "denied",
        "forbidden",
        "403",
        "401",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

fn pod_causes(pod: &Pod, events: &[Arc<Event>]) -> Vec<StuckRollout> {
    let name = pod.name_any();
    let mut found = Vec::new();
    let status = pod.status.as_ref();
    if let Some(condition) = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        && condition.status == "False"
        && condition.reason.as_deref() == Some("Unschedulable")
    {
        found.push(StuckRollout::Unschedulable {
            pod: name.clone(),
            message: condition.message.clone().unwrap_or_default(),
        });
    }
    let containers = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .collect::<Vec<_>>();
    for container in containers {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.clone().unwrap_or_default();
        let message = waiting.message.clone().unwrap_or_default();
        match reason.as_str() {
            "ImagePullBackOff" | "InvalidImageName" => {}
            "ErrImagePull" if pull_is_terminal(&message) => {}
            "CrashLoopBackOff" => {
                let exit_code = container
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| t.exit_code);
                found.push(StuckRollout::CrashLoop {
                    pod: name.clone(),
                    container: container.name.clone(),
                    exit_code,
                    message,
                    logs: Vec::new(),
                });
                continue;
            }
            _ => continue,
        }
        found.push(StuckRollout::ImagePull {
            pod: name.clone(),
            container: container.name.clone(),
            image: container.image.clone(),
            reason,
            message,
        });
    }
    let pod_uid = pod.uid().unwrap_or_default();
    if let Some(mount) = events.iter().find(|e| {
        e.involved_object.uid.as_deref() == Some(pod_uid.as_str())
            && e.reason.as_deref() == Some("FailedMount")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("not found"))
    }) {
        found.push(StuckRollout::MissingVolume {
            pod: name,
            message: mount.message.clone().unwrap_or_default(),
        });
    }
    found
}

/// A crash loop with the container's last log lines (the previous run's, else the current
/// one's), GitLab tokens redacted; other causes as they are.
async fn with_logs(client: &kube::Client, namespace: &str, stuck: StuckRollout) -> StuckRollout {
    let StuckRollout::CrashLoop {
        pod,
        container,
        exit_code,
        message,
        ..
    } = stuck
    else {
        return stuck;
    };
    let api = Api::<Pod>::namespaced(client.clone(), namespace);
    let mut params = LogParams {
        container: Some(container.clone()),
        previous: true,
        tail_lines: Some(LOG_LINES),
        limit_bytes: Some(16 * 1024),
        ..LogParams::default()
    };
    let read = async {
        match api.logs(&pod, &params).await {
            Ok(text) => Some(text),
            Err(_) => {
                params.previous = false;
                api.logs(&pod, &params).await.ok()
            }
        }
    };
    let text = tokio::time::timeout(LOG_TIMEOUT, read)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let logs = text
        .lines()
        .map(gitlab_runner_chart::credentials::redact_tokens)
        .collect();
    StuckRollout::CrashLoop {
        pod,
        container,
        exit_code,
        message,
        logs,
    }
}

/// The last `lines` log lines of the release's newest running manager pod (label
/// `release=<name>`), GitLab tokens redacted; empty when none can be read.
pub async fn manager_log_tail(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    lines: i64,
) -> Vec<String> {
    let api = Api::<Pod>::namespaced(client.clone(), namespace);
    let read = async {
        let params = kube::api::ListParams::default().labels(&format!("release={release}"));
        let pods = api.list(&params).await.ok()?;
        let pod = pods
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .max_by_key(|p| p.metadata.creation_timestamp.clone())?;
        let log = LogParams {
            tail_lines: Some(lines),
            limit_bytes: Some(64 * 1024),
            ..LogParams::default()
        };
        api.logs(&pod.name_any(), &log).await.ok()
    };
    tokio::time::timeout(LOG_TIMEOUT, read)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
        .lines()
        .map(gitlab_runner_chart::credentials::redact_tokens)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_failures_that_retrying_fixes_are_not_terminal() {
        assert!(pull_is_terminal(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"x\": x: not found"
        ));
        assert!(pull_is_terminal(
            "failed to authorize: failed to fetch anonymous token: 401 Unauthorized"
        ));
        assert!(!pull_is_terminal(
            "failed to do request: dial tcp 10.0.0.1:443: i/o timeout"
        ));
        assert!(!pull_is_terminal("429 Too Many Requests"));
    }

    #[test]
    fn only_waiting_reasons_that_do_not_resolve_count() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "uid": "u"},
            "status": {"containerStatuses": [
                {"name": "a", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}},
                {"name": "b", "image": "y:1", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"y:1\""}}},
                {"name": "c", "image": "z", "imageID": "", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                 "lastState": {"terminated": {"exitCode": 2}}},
            ]},
        }))
        .expect("pod");
        let found = pod_causes(&pod, &[]);
        assert_eq!(
            found,
            vec![
                StuckRollout::ImagePull {
                    pod: "p".into(),
                    container: "b".into(),
                    image: "y:1".into(),
                    reason: "ImagePullBackOff".into(),
                    message: "Back-off pulling image \"y:1\"".into(),
                },
                StuckRollout::CrashLoop {
                    pod: "p".into(),
                    container: "c".into(),
                    exit_code: Some(2),
                    message: "back-off".into(),
                    logs: Vec::new(),
                },
            ]
        );
    }
}
