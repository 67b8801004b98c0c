//! What a real control plane says when a workload cannot run: ServiceAccount admission of the
//! ReplicaSet controller's pod creates, the scheduler's `Unschedulable`, the kubelet's
//! `FailedMount`, image pull failures, crash loops, and `pods/log`.
//!
//! Shapes follow the real components (Kubernetes 1.35): the ReplicaSet `ReplicaFailure`
//! condition (reason `FailedCreate`) with its `FailedCreate` Event from `replicaset-controller`,
//! the pod's `PodScheduled=False`/`Unschedulable` condition with a `FailedScheduling` Event from
//! `default-scheduler`, container `waiting` states (`ContainerCreating`, `ErrImagePull`,
//! `ImagePullBackOff`, `CrashLoopBackOff` with `lastState.terminated`) and the kubelet's
//! `FailedMount`, `Failed` and `BackOff` Events. A test chooses what an image does through the
//! admin surface (`POST /images`); images nobody configured run.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::resources::{self, ResourceType};
use crate::status::ApiError;
use crate::store::{State, now_timestamp};

/// How often the kubelet looks again at a pod that waits for a volume or an image.
pub const RETRY: Duration = Duration::from_millis(500);

/// The single node's name and labels (what a `nodeSelector` can match).
pub const NODE_NAME: &str = "kube-test-node";
const NODE_LABELS: &[(&str, &str)] = &[
    ("kubernetes.io/hostname", NODE_NAME),
    ("kubernetes.io/os", "linux"),
    ("kubernetes.io/arch", "amd64"),
];

/// What a container image does when a pod runs it (set by a test; unknown images run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ImageBehaviour {
    /// Starts and keeps running, printing `logs`.
    Runs {
        #[serde(default)]
        logs: Vec<String>,
    },
    /// The pull fails (the registry says not found); the pod waits in `ImagePullBackOff`.
    PullFails,
    /// Starts, prints `logs` and exits with `exit_code`, again and again (`CrashLoopBackOff`).
    Crashes {
        #[serde(default)]
        logs: Vec<String>,
        #[serde(default = "default_exit_code")]
        exit_code: i32,
    },
}

fn default_exit_code() -> i32 {
    1
}

/// An image and what it does (the admin surface's `POST /images` body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRule {
    /// The image exactly as a container spec names it.
    pub image: String,
    #[serde(flatten)]
    pub behaviour: ImageBehaviour,
}

fn rt(kind: &str) -> Option<&'static ResourceType> {
    resources::by_kind(kind)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Records an Event about `object` the way the component `source` does, or bumps the count of
/// the same (reason, message) Event as the real event recorder's aggregation does.
pub fn record_event(
    st: &mut State,
    object: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
    source: &str,
) {
    let Some(events) = rt("Event") else { return };
    let namespace = str_at(object, "/metadata/namespace").to_string();
    let uid = str_at(object, "/metadata/uid");
    let now = now_timestamp();
    let existing = st
        .list(events, Some(&namespace))
        .into_iter()
        .find(|e| {
            e["involvedObject"]["uid"] == uid && e["reason"] == reason && e["message"] == message
        })
        .cloned();
    if let Some(mut event) = existing {
        let count = event["count"].as_i64().unwrap_or(1) + 1;
        event["count"] = json!(count);
        event["lastTimestamp"] = json!(now);
        let name = str_at(&event, "/metadata/name").to_string();
        st.put(events, &namespace, &name, event);
        return;
    }
    let name = format!("{}.{}", str_at(object, "/metadata/name"), random_hex());
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(),
                     "creationTimestamp": now},
        "involvedObject": {
            "apiVersion": object["apiVersion"], "kind": object["kind"],
            "name": object["metadata"]["name"], "namespace": namespace, "uid": uid,
            "resourceVersion": object["metadata"]["resourceVersion"],
        },
        "reason": reason, "message": message, "type": event_type,
        "source": {"component": source},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "reportingComponent": source, "reportingInstance": "",
    });
    st.put(events, &namespace, &name, event);
}

/// ServiceAccount admission of a pod the ReplicaSet controller creates: the real plugin's
/// refusal when the pod's account does not exist (the pod name is the controller's
/// `generateName`, `<replicaset>-`).
pub fn admit_service_account(st: &State, namespace: &str, pod: &Value) -> Result<(), ApiError> {
    let account = match str_at(pod, "/spec/serviceAccountName") {
        "" => "default",
        named => named,
    };
    let Some(accounts) = rt("ServiceAccount") else {
        return Ok(());
    };
    if st.get(accounts, namespace, account).is_some() {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        "Forbidden",
        format!(
            "pods \"{}\" is forbidden: error looking up service account {namespace}/{account}: serviceaccount \"{account}\" not found",
            str_at(pod, "/metadata/generateName")
        ),
    ))
}

/// The ReplicaSet's `ReplicaFailure` condition after a refused pod create (`None` clears it).
pub fn set_replica_failure(replica_set: &mut Value, failure: Option<&str>) {
    let mut conditions: Vec<Value> = replica_set["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = conditions.clone();
    conditions.retain(|c| c["type"] != "ReplicaFailure" || failure.is_some());
    if let Some(message) = failure {
        let condition = json!({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": message, "lastTransitionTime": now_timestamp()});
        match conditions
            .iter_mut()
            .find(|c| c["type"] == "ReplicaFailure")
        {
            Some(existing) if existing["message"] == message => {}
            Some(existing) => *existing = condition,
            None => conditions.push(condition),
        }
    }
    if conditions == before {
        return;
    }
    if conditions.is_empty() {
        if let Some(status) = replica_set["status"].as_object_mut() {
            status.remove("conditions");
        }
    } else {
        replica_set["status"]["conditions"] = Value::Array(conditions);
    }
}

/// The scheduler's answer for a pod on the single node: `None` when it fits, else the message of
/// the `Unschedulable` condition.
pub fn unschedulable(pod: &Value) -> Option<String> {
    let selector = pod["spec"]["nodeSelector"].as_object()?;
    let fits = selector.iter().all(|(key, value)| {
        NODE_LABELS
            .iter()
            .any(|(k, v)| k == key && value.as_str() == Some(v))
    });
    (!fits).then(|| {
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".to_string()
    })
}

/// A new pod the scheduler could not place: `PodScheduled=False`, no node, and the
/// `FailedScheduling` Event.
pub fn mark_unschedulable(st: &mut State, pod: &mut Value, message: &str) {
    if let Some(spec) = pod["spec"].as_object_mut() {
        spec.remove("nodeName");
    }
    pod["status"] = json!({
        "phase": "Pending", "qosClass": "BestEffort",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": message, "lastProbeTime": null, "lastTransitionTime": now_timestamp()}],
    });
    record_event(
        st,
        pod,
        "Warning",
        "FailedScheduling",
        message,
        "default-scheduler",
    );
}

/// The first Secret or ConfigMap volume of `pod` (plain or projected, not optional) that does
/// not exist, as the kubelet's `FailedMount` message names it.
fn missing_volume(st: &State, namespace: &str, pod: &Value) -> Option<String> {
    let (secrets, config_maps) = (rt("Secret")?, rt("ConfigMap")?);
    let missing = |kind: &ResourceType, name: &str, optional: &Value| {
        optional != &json!(true) && !name.is_empty() && st.get(kind, namespace, name).is_none()
    };
    for volume in pod["spec"]["volumes"].as_array()? {
        let volume_name = str_at(volume, "/name");
        let secret = &volume["secret"];
        if secret.is_object()
            && missing(secrets, str_at(secret, "/secretName"), &secret["optional"])
        {
            return Some(format!(
                "MountVolume.SetUp failed for volume \"{volume_name}\" : secret \"{}\" not found",
                str_at(secret, "/secretName")
            ));
        }
        let config_map = &volume["configMap"];
        if config_map.is_object()
            && missing(
                config_maps,
                str_at(config_map, "/name"),
                &config_map["optional"],
            )
        {
            return Some(format!(
                "MountVolume.SetUp failed for volume \"{volume_name}\" : configmap \"{}\" not found",
                str_at(config_map, "/name")
            ));
        }
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for (key, kind, what) in [
                ("secret", secrets, "secret"),
                ("configMap", config_maps, "configmap"),
            ] {
                let item = &source[key];
                if item.is_object() && missing(kind, str_at(item, "/name"), &item["optional"]) {
                    return Some(format!(
                        "MountVolume.SetUp failed for volume \"{volume_name}\" : {what} \"{}\" not found",
                        str_at(item, "/name")
                    ));
                }
            }
        }
    }
    None
}

/// What the kubelet does with a pod when it looks at it.
pub enum Start {
    /// Every container runs: the pod becomes Running and Ready.
    Run,
    /// The pod waits (volume, image pull): look again after [`RETRY`].
    Retry,
    /// The pod stays as it is now (pull back-off, crash loop) until its template changes.
    Stay,
}

fn containers(pod: &Value) -> Vec<Value> {
    pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn waiting_statuses(pod: &Value, reason: &str, message: Option<&str>) -> Vec<Value> {
    containers(pod)
        .iter()
        .map(|c| {
            let mut waiting = json!({"reason": reason});
            if let Some(message) = message {
                waiting["message"] = json!(message);
            }
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false,
                   "started": false, "restartCount": 0, "state": {"waiting": waiting}})
        })
        .collect()
}

fn not_ready_status(pod: &Value, phase: &str, statuses: Vec<Value>) -> Value {
    let now = now_timestamp();
    let names: Vec<String> = containers(pod)
        .iter()
        .map(|c| str_at(c, "/name").to_string())
        .collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    json!({
        "phase": phase, "qosClass": "BestEffort", "hostIP": "10.0.0.1", "startTime": now,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "message": unready, "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": unready, "lastTransitionTime": now},
        ],
        "containerStatuses": statuses,
    })
}

fn pull_error(image: &str) -> String {
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
    )
}

/// Looks at a scheduled pod as the kubelet would: mounts its volumes, pulls its images and
/// starts its containers, writing the status and Events a real kubelet writes on the way.
pub fn start(st: &mut State, pod: &mut Value) -> Start {
    let namespace = str_at(pod, "/metadata/namespace").to_string();
    let pod_name = str_at(pod, "/metadata/name").to_string();
    if st.behaviour.check_volumes
        && let Some(message) = missing_volume(st, &namespace, pod)
    {
        pod["status"] = not_ready_status(
            pod,
            "Pending",
            waiting_statuses(pod, "ContainerCreating", None),
        );
        record_event(st, pod, "Warning", "FailedMount", &message, "kubelet");
        return Start::Retry;
    }
    let rule = containers(pod).iter().find_map(|c| {
        let image = str_at(c, "/image");
        st.images
            .get(image)
            .map(|b| (str_at(c, "/name").to_string(), image.to_string(), b.clone()))
    });
    match rule {
        None | Some((_, _, ImageBehaviour::Runs { .. })) => Start::Run,
        Some((container, image, ImageBehaviour::PullFails)) => {
            let already_failed = pod
                .pointer("/status/containerStatuses/0/state/waiting/reason")
                .and_then(Value::as_str)
                == Some("ErrImagePull");
            let (reason, message, event_reason, event_message) = if already_failed {
                let message = format!("Back-off pulling image \"{image}\"");
                ("ImagePullBackOff", message.clone(), "BackOff", message)
            } else {
                let message = pull_error(&image);
                let event = format!("Failed to pull image \"{image}\": {message}");
                ("ErrImagePull", message, "Failed", event)
            };
            let mut statuses = waiting_statuses(pod, "ContainerCreating", None);
            for status in &mut statuses {
                if status["name"] == container.as_str() {
                    status["state"] = json!({"waiting": {"reason": reason, "message": message}});
                }
            }
            pod["status"] = not_ready_status(pod, "Pending", statuses);
            record_event(st, pod, "Warning", event_reason, &event_message, "kubelet");
            if already_failed {
                Start::Stay
            } else {
                Start::Retry
            }
        }
        Some((container, _, ImageBehaviour::Crashes { exit_code, .. })) => {
            let uid = str_at(pod, "/metadata/uid").to_string();
            let now = now_timestamp();
            let mut statuses = waiting_statuses(pod, "ContainerCreating", None);
            for status in &mut statuses {
                if status["name"] == container.as_str() {
                    status["restartCount"] = json!(1);
                    status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                        "message": format!("back-off 10s restarting failed container={container} pod={pod_name}_{namespace}({uid})")}});
                    status["lastState"] = json!({"terminated": {"exitCode": exit_code, "reason": "Error",
                        "startedAt": now, "finishedAt": now, "containerID": format!("containerd://{}", random_hex())}});
                } else {
                    status["ready"] = json!(true);
                    status["started"] = json!(true);
                    status["state"] = json!({"running": {"startedAt": now}});
                }
            }
            pod["status"] = not_ready_status(pod, "Running", statuses);
            pod["status"]["podIP"] = json!("10.244.0.10");
            let message = format!(
                "Back-off restarting failed container {container} in pod {pod_name}_{namespace}({uid})"
            );
            record_event(st, pod, "Warning", "BackOff", &message, "kubelet");
            Start::Stay
        }
    }
}

/// `GET …/pods/<name>/log`: the container's output (`container`, `previous`, `tailLines`), or the
/// kubelet's 400 for a container that never started.
pub fn logs(
    st: &State,
    namespace: &str,
    name: &str,
    query: &std::collections::HashMap<String, String>,
) -> Result<String, ApiError> {
    let pods = rt("Pod").ok_or_else(|| ApiError::internal("no pod type"))?;
    let pod = st
        .get(pods, namespace, name)
        .ok_or_else(|| ApiError::not_found(pods, name))?;
    let all = containers(pod);
    let container = match query.get("container") {
        Some(wanted) => all
            .iter()
            .find(|c| c["name"] == wanted.as_str())
            .ok_or_else(|| {
                ApiError::bad_request(format!("container {wanted} is not valid for pod {name}"))
            })?,
        None if all.len() == 1 => &all[0],
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            )));
        }
    };
    let container_name = str_at(container, "/name");
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == container_name));
    let waiting = status
        .and_then(|s| s.pointer("/state/waiting/reason"))
        .and_then(Value::as_str);
    let previous = query.get("previous").is_some_and(|p| p == "true");
    let behaviour = st.images.get(str_at(container, "/image"));
    let lines = match (behaviour, waiting) {
        (Some(ImageBehaviour::Crashes { logs, .. }), Some("CrashLoopBackOff")) => logs.clone(),
        (_, Some(reason)) if reason != "CrashLoopBackOff" => {
            let why = match reason {
                "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
                other => other,
            };
            return Err(ApiError::bad_request(format!(
                "container \"{container_name}\" in pod \"{name}\" is waiting to start: {why}"
            )));
        }
        _ if previous => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container_name}\" in pod \"{name}\" not found"
            )));
        }
        (Some(ImageBehaviour::Runs { logs }), _) => logs.clone(),
        _ => Vec::new(),
    };
    let tail = query
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let skip = lines.len().saturating_sub(tail);
    Ok(lines
        .iter()
        .skip(skip)
        .map(|line| format!("{line}\n"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_selectors_match_the_node_labels_only() {
        let pod = |selector: Value| json!({"spec": {"nodeSelector": selector}});
        assert!(unschedulable(&json!({"spec": {}})).is_none());
        assert!(unschedulable(&pod(json!({"kubernetes.io/os": "linux"}))).is_none());
        let message = unschedulable(&pod(json!({"disk": "ssd"}))).expect("no node has disk=ssd");
        assert!(message.starts_with(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
        ));
    }

    #[test]
    fn replica_failure_is_set_once_and_cleared() {
        let mut rs = json!({"status": {"replicas": 0}});
        set_replica_failure(&mut rs, Some("pods \"x-\" is forbidden: no"));
        let condition = rs["status"]["conditions"][0].clone();
        assert_eq!(condition["type"], "ReplicaFailure");
        assert_eq!(condition["reason"], "FailedCreate");
        set_replica_failure(&mut rs, Some("pods \"x-\" is forbidden: no"));
        assert_eq!(rs["status"]["conditions"][0], condition, "unchanged");
        set_replica_failure(&mut rs, None);
        assert!(rs["status"].get("conditions").is_none());
    }

    #[test]
    fn image_rules_read_as_the_admin_surface_takes_them() {
        let rule: ImageRule =
            serde_json::from_value(json!({"image": "x:1", "mode": "crashes", "logs": ["a", "b"]}))
                .expect("rule");
        assert_eq!(
            rule.behaviour,
            ImageBehaviour::Crashes {
                logs: vec!["a".into(), "b".into()],
                exit_code: 1
            }
        );
    }
}
