//! A small Deployment → ReplicaSet → Pod controller, and the pod lifecycle timers.
//!
//! Each Deployment owns one ReplicaSet per pod template (named `<deployment>-<pod-template-hash>`);
//! older ReplicaSets are scaled to zero. ReplicaSets create pods that become Running/Ready after
//! the configured delay; surplus pods get a deletionTimestamp and vanish after the grace delay.
//! Status fields and conditions are what helm 4's watcher and helm 3's legacy waiter read.
//! Like the real deployment controller, it writes the Deployment's
//! `deployment.kubernetes.io/revision` annotation as field manager `kube-controller-manager`.

use serde_json::{Map, Value, json};

use crate::fields::{self, Writer};
use crate::kubelet;
use crate::resources::{self, ResourceType};
use crate::store::{State, Timer, now_timestamp};

fn rt(kind: &str) -> Option<&'static ResourceType> {
    resources::by_kind(kind)
}

/// FNV-1a over a canonical (key-sorted) JSON rendering, encoded like Kubernetes' safe encoding.
pub fn template_hash(template: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(k);
                    out.push(':');
                    canonical(&m[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for i in items {
                    canonical(i, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(template, &mut text);
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = hash;
    let mut out = String::new();
    loop {
        out.push(ALPHABET[(n % ALPHABET.len() as u32) as usize] as char);
        n /= ALPHABET.len() as u32;
        if n == 0 {
            break;
        }
    }
    out
}

fn controller_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .and_then(|r| r["uid"].as_str())
}

fn is_terminating(object: &Value) -> bool {
    object["metadata"].get("deletionTimestamp").is_some()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn name_of(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn uid_of(object: &Value) -> String {
    object["metadata"]["uid"].as_str().unwrap_or("").to_string()
}

fn owner_reference(owner: &Value, kind: &str) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": kind, "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    })
}

/// Reconciles every Deployment and ReplicaSet in a namespace.
pub fn reconcile_namespace(st: &mut State, namespace: &str) {
    let (Some(deployments), Some(replicasets)) = (rt("Deployment"), rt("ReplicaSet")) else {
        return;
    };
    let names: Vec<String> = st
        .list(deployments, Some(namespace))
        .into_iter()
        .map(name_of)
        .collect();
    for name in names {
        reconcile_deployment(st, namespace, &name);
    }
    let orphans: Vec<String> = st
        .list(replicasets, Some(namespace))
        .into_iter()
        .filter(|rs| controller_uid(rs).is_none())
        .map(name_of)
        .collect();
    for name in orphans {
        reconcile_replicaset(st, namespace, &name);
    }
}

fn reconcile_deployment(st: &mut State, namespace: &str, name: &str) {
    let (Some(deployments), Some(replicasets)) = (rt("Deployment"), rt("ReplicaSet")) else {
        return;
    };
    let Some(deployment) = st.get(deployments, namespace, name).cloned() else {
        return;
    };
    if is_terminating(&deployment) {
        return;
    }
    let uid = uid_of(&deployment);
    let desired = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let mut template = deployment["spec"]["template"].clone();
    let hash = template_hash(&template);
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let rs_name = format!("{name}-{hash}");
    let mut selector = deployment["spec"]["selector"].clone();
    selector["matchLabels"]["pod-template-hash"] = json!(hash);

    let owned: Vec<Value> = st
        .list(replicasets, Some(namespace))
        .into_iter()
        .filter(|rs| controller_uid(rs) == Some(uid.as_str()))
        .cloned()
        .collect();
    let revision = owned.len() + 1;
    match owned.iter().find(|rs| name_of(rs) == rs_name) {
        Some(rs) => {
            if rs["spec"]["replicas"].as_i64() != Some(desired) {
                let mut next = rs.clone();
                next["spec"]["replicas"] = json!(desired);
                bump_generation(&mut next);
                st.put(replicasets, namespace, &rs_name, next);
            }
        }
        None => {
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name, "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(),
                    "creationTimestamp": now_timestamp(), "generation": 1,
                    "labels": template["metadata"]["labels"].clone(),
                    "annotations": {"deployment.kubernetes.io/revision": revision.to_string(),
                                    "deployment.kubernetes.io/desired-replicas": desired.to_string()},
                    "ownerReferences": [owner_reference(&deployment, "Deployment")],
                },
                "spec": {"replicas": desired, "selector": selector, "template": template},
            });
            st.put(replicasets, namespace, &rs_name, rs);
        }
    }
    for rs in owned.iter().filter(|rs| name_of(rs) != rs_name) {
        if rs["spec"]["replicas"].as_i64() != Some(0) {
            let mut next = rs.clone();
            next["spec"]["replicas"] = json!(0);
            bump_generation(&mut next);
            st.put(replicasets, namespace, &name_of(rs), next);
        }
    }
    let all_rs: Vec<String> = st
        .list(replicasets, Some(namespace))
        .into_iter()
        .filter(|rs| controller_uid(rs) == Some(uid.as_str()))
        .map(name_of)
        .collect();
    for rs in &all_rs {
        reconcile_replicaset(st, namespace, rs);
    }
    update_deployment_status(st, namespace, name, &rs_name, desired);
}

/// Where the revision annotation sits (`/` escaped in the pointer).
const REVISION_POINTER: &str = "/metadata/annotations/deployment.kubernetes.io~1revision";

/// Sets the Deployment's revision annotation as the controller does, owned by
/// `kube-controller-manager` (an `Update` of its own).
fn set_revision(next: &mut Value, previous: &Value, revision: Value) {
    if previous.pointer(REVISION_POINTER) == Some(&revision) {
        return;
    }
    next["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = revision;
    let time = now_timestamp();
    let writer = Writer {
        manager: "kube-controller-manager",
        api_version: "apps/v1",
        time: &time,
        subresource: None,
    };
    let mut entries = fields::read_entries(previous);
    fields::record_update(
        &mut entries,
        &writer,
        &fields::changed_paths(previous, next),
    );
    fields::write_entries(next, &entries);
}

fn bump_generation(object: &mut Value) {
    let g = object["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
    object["metadata"]["generation"] = json!(g);
}

fn set_counts(status: &mut Map<String, Value>, counts: &[(&str, i64)]) {
    for (key, value) in counts {
        if *value == 0 {
            status.remove(*key);
        } else {
            status.insert((*key).to_string(), json!(value));
        }
    }
}

fn reconcile_replicaset(st: &mut State, namespace: &str, name: &str) {
    let (Some(replicasets), Some(pods)) = (rt("ReplicaSet"), rt("Pod")) else {
        return;
    };
    let Some(rs) = st.get(replicasets, namespace, name).cloned() else {
        return;
    };
    let uid = uid_of(&rs);
    let desired = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let mut active: Vec<Value> = st
        .list(pods, Some(namespace))
        .into_iter()
        .filter(|p| controller_uid(p) == Some(uid.as_str()) && !is_terminating(p))
        .cloned()
        .collect();
    let mut create_failure: Option<String> = None;
    while active.len() < desired {
        let mut pod = new_pod(&rs, namespace);
        let pod_name = name_of(&pod);
        // Admission refuses the controller's creates as it refuses anyone's (a missing
        // ServiceAccount, a used-up pod quota); a real ReplicaSet controller reports the 403 in
        // its `ReplicaFailure` condition and a `FailedCreate` Event, and tries again later (here:
        // at the namespace's next write).
        let admitted = kubelet::admit_service_account(st, namespace, &pod)
            .and_then(|()| crate::quota::admit_create(st, pods, Some(namespace), &pod_name));
        if let Err(refusal) = admitted {
            create_failure = Some(refusal.message);
            break;
        }
        let pod_uid = uid_of(&pod);
        let placement = kubelet::unschedulable(&pod);
        if let Some(message) = &placement {
            kubelet::mark_unschedulable(st, &mut pod, message);
        }
        let stored = st.put(pods, namespace, &pod_name, pod);
        if placement.is_none() {
            let delay = st.behaviour.ready_delay;
            st.schedule(
                delay,
                Timer::PodReady {
                    namespace: namespace.to_string(),
                    name: pod_name,
                    uid: pod_uid,
                },
            );
        }
        active.push(stored);
    }
    if let Some(message) = &create_failure {
        kubelet::record_event(
            st,
            &rs,
            "Warning",
            "FailedCreate",
            &format!("Error creating: {message}"),
            "replicaset-controller",
        );
    }
    if active.len() > desired {
        active.sort_by_key(|p| {
            (
                is_ready(p),
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .map(str::to_string),
            )
        });
        let surplus: Vec<Value> = active.drain(..active.len() - desired).collect();
        for pod in surplus {
            terminate_pod(st, namespace, &pod);
        }
    }
    let ready = active.iter().filter(|p| is_ready(p)).count() as i64;
    let mut next = st.get(replicasets, namespace, name).cloned().unwrap_or(rs);
    let rs = next.clone();
    kubelet::set_replica_failure(&mut next, create_failure.as_deref());
    let mut status = next["status"].as_object().cloned().unwrap_or_default();
    set_counts(
        &mut status,
        &[
            ("replicas", active.len() as i64),
            ("fullyLabeledReplicas", active.len() as i64),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
        ],
    );
    status.insert(
        "observedGeneration".into(),
        rs["metadata"]["generation"].clone(),
    );
    next["status"] = Value::Object(status);
    if next != rs {
        st.put(replicasets, namespace, name, next);
    }
}

fn new_pod(rs: &Value, namespace: &str) -> Value {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let name = format!("{}-{suffix}", name_of(rs));
    let template = &rs["spec"]["template"];
    let mut spec = template["spec"].clone();
    if spec.get("serviceAccountName").is_none() {
        spec["serviceAccountName"] = json!("default");
    }
    spec["nodeName"] = json!(kubelet::NODE_NAME);
    let mut metadata = template["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["generateName"] = json!(format!("{}-", name_of(rs)));
    metadata["namespace"] = json!(namespace);
    metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
    metadata["creationTimestamp"] = json!(now_timestamp());
    metadata["generation"] = json!(1);
    metadata["ownerReferences"] = json!([owner_reference(rs, "ReplicaSet")]);
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort",
                   "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_timestamp()}]},
    })
}

/// Marks a pod terminating; it vanishes after the configured grace delay.
pub fn terminate_pod(st: &mut State, namespace: &str, pod: &Value) {
    let Some(pods) = rt("Pod") else { return };
    let name = name_of(pod);
    let uid = uid_of(pod);
    let grace = st.behaviour.pod_termination_grace;
    if grace.is_zero() {
        st.remove(pods, namespace, &name);
        return;
    }
    let mut marked = pod.clone();
    marked["metadata"]["deletionTimestamp"] = json!(now_timestamp());
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace.as_secs().max(1));
    st.put(pods, namespace, &name, marked);
    st.schedule(
        grace,
        Timer::PodGone {
            namespace: namespace.to_string(),
            name,
            uid,
        },
    );
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, previous: &[Value]) -> Value {
    let status_text = if status { "True" } else { "False" };
    if let Some(p) = previous.iter().find(|c| c["type"] == kind)
        && p["status"] == status_text
        && p["reason"] == reason
    {
        return p.clone();
    }
    let now = now_timestamp();
    json!({"type": kind, "status": status_text, "reason": reason, "message": message,
           "lastUpdateTime": now, "lastTransitionTime": now})
}

fn update_deployment_status(
    st: &mut State,
    namespace: &str,
    name: &str,
    current_rs: &str,
    desired: i64,
) {
    let (Some(deployments), Some(replicasets)) = (rt("Deployment"), rt("ReplicaSet")) else {
        return;
    };
    let Some(deployment) = st.get(deployments, namespace, name).cloned() else {
        return;
    };
    let uid = uid_of(&deployment);
    let (mut replicas, mut ready, mut updated, mut updated_ready) = (0i64, 0i64, 0i64, 0i64);
    for rs in st
        .list(replicasets, Some(namespace))
        .into_iter()
        .filter(|rs| controller_uid(rs) == Some(uid.as_str()))
    {
        let r = rs["status"]["replicas"].as_i64().unwrap_or(0);
        let rd = rs["status"]["readyReplicas"].as_i64().unwrap_or(0);
        replicas += r;
        ready += rd;
        if name_of(rs) == current_rs {
            updated = r;
            updated_ready = rd;
        }
    }
    let previous_conditions = deployment["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let available = ready >= desired;
    let complete = updated == desired && updated_ready == desired && replicas == desired;
    let conditions = vec![
        if available {
            condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                &previous_conditions,
            )
        } else {
            condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                &previous_conditions,
            )
        },
        if complete {
            condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{current_rs}\" has successfully progressed."),
                &previous_conditions,
            )
        } else {
            condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{current_rs}\" is progressing."),
                &previous_conditions,
            )
        },
    ];
    let mut conditions = conditions;
    // The deployment controller copies its new ReplicaSet's create failure (`getReplicaFailures`).
    if let Some(failure) = st
        .get(replicasets, namespace, current_rs)
        .and_then(|rs| rs["status"]["conditions"].as_array())
        .and_then(|c| c.iter().find(|c| c["type"] == "ReplicaFailure"))
    {
        let message = failure["message"].as_str().unwrap_or_default();
        conditions.push(condition(
            "ReplicaFailure",
            true,
            "FailedCreate",
            message,
            &previous_conditions,
        ));
    }
    let mut status = deployment["status"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    set_counts(
        &mut status,
        &[
            ("replicas", replicas),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
            ("unavailableReplicas", (desired - ready).max(0)),
        ],
    );
    status.insert(
        "observedGeneration".into(),
        deployment["metadata"]["generation"].clone(),
    );
    status.insert("conditions".into(), Value::Array(conditions));
    let mut next = deployment.clone();
    next["status"] = Value::Object(status);
    let revision = st
        .get(replicasets, namespace, current_rs)
        .and_then(|rs| rs.pointer(REVISION_POINTER))
        .cloned();
    if let Some(revision) = revision {
        set_revision(&mut next, &deployment, revision);
    }
    if next != deployment {
        st.put(deployments, namespace, name, next);
    }
}

/// Marks a pod Running and Ready (also used by the admin surface for job pods).
pub fn mark_running(pod: &mut Value) {
    let now = now_timestamp();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "ready": true, "started": true,
                                "restartCount": 0, "state": {"running": {"startedAt": now}}})
                })
                .collect()
        })
        .unwrap_or_default();
    pod["status"] = json!({
        "phase": "Running", "qosClass": "BestEffort", "podIP": "10.244.0.10", "hostIP": "10.0.0.1", "startTime": now,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": containers,
    });
}

/// Runs a timer that came due.
pub fn fire(st: &mut State, timer: &Timer) {
    let Some(pods) = rt("Pod") else { return };
    match timer {
        Timer::PodReady {
            namespace,
            name,
            uid,
        } => {
            let Some(pod) = st.get(pods, namespace, name).cloned() else {
                return;
            };
            if uid_of(&pod) != *uid || is_terminating(&pod) {
                return;
            }
            let mut next = pod;
            match kubelet::start(st, &mut next) {
                kubelet::Start::Run => mark_running(&mut next),
                kubelet::Start::Retry => st.schedule(kubelet::RETRY, timer.clone()),
                kubelet::Start::Stay => {}
            }
            st.put(pods, namespace, name, next);
            reconcile_namespace(st, namespace);
        }
        Timer::PodGone {
            namespace,
            name,
            uid,
        } => {
            let Some(pod) = st.get(pods, namespace, name) else {
                return;
            };
            if uid_of(pod) != *uid {
                return;
            }
            st.remove(pods, namespace, name);
            reconcile_namespace(st, namespace);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_order_independent() {
        let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "x"}]}});
        let b = json!({"spec": {"containers": [{"name": "x"}]}, "metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_ne!(template_hash(&a), template_hash(&json!({})));
    }
}
