//! Stopping the runner manager: scale its Deployment to zero and wait until its pods are gone,
//! while its ServiceAccount, Role and RoleBinding still exist (the manager needs them to clean
//! up job pods — chart issue #225).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pod_watch::{PodView, spawn_pod_watch};
use crate::kube::{Action, Budget, KubeError, Verb};

/// Why the manager could not be stopped.
#[derive(Debug)]
pub enum StopFailure {
    Kube(KubeError),
    /// Watching its pods failed for good.
    Watch(String),
    /// Pods were still there at the deadline.
    TimedOut {
        remaining: Vec<String>,
    },
    Cancelled,
}

/// `app=x,release=y` from a Deployment's `matchLabels`.
pub fn selector_of(deployment: &Deployment) -> Option<String> {
    let labels: &BTreeMap<String, String> =
        deployment.spec.as_ref()?.selector.match_labels.as_ref()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// The scale patch (merge patch on the `scale` subresource).
pub fn scale_to_zero_patch() -> serde_json::Value {
    json!({"spec": {"replicas": 0}})
}

/// Scales `deployment` in `namespace` to zero and waits until none of its pods exist.
/// A missing Deployment is already stopped.
pub async fn stop_manager(
    client: &kube::Client,
    namespace: &str,
    deployment: &str,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), StopFailure> {
    let budget = Budget::with_token(
        deadline.saturating_duration_since(Instant::now()),
        cancel.clone(),
    );
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let get = Action::new(Verb::Get, "deployments", "apps", namespace, deployment);
    let found = budget
        .retry(&get, || api.get_opt(deployment))
        .await
        .map_err(kube_failure)?;
    let Some(found) = found else {
        tracing::info!(
            namespace,
            deployment,
            "drain: the manager Deployment is already gone"
        );
        return Ok(());
    };
    let replicas = found
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    if replicas != 0 {
        tracing::info!(
            namespace,
            deployment,
            replicas,
            "drain: scaling the runner manager to 0"
        );
        let patch = Action::new(
            Verb::Patch,
            "deployments/scale",
            "apps",
            namespace,
            deployment,
        );
        let body = Patch::Merge(scale_to_zero_patch());
        let params = PatchParams::default();
        budget
            .retry(&patch, || api.patch_scale(deployment, &params, &body))
            .await
            .map_err(kube_failure)?;
    }
    let Some(selector) = selector_of(&found) else {
        return Ok(());
    };
    wait_for_no_pods(client, namespace, &selector, deadline, cancel).await?;
    tracing::info!(
        namespace,
        deployment,
        "drain: the runner manager's pods are gone"
    );
    Ok(())
}

fn kube_failure(error: KubeError) -> StopFailure {
    match error {
        KubeError::Cancelled { .. } => StopFailure::Cancelled,
        other => StopFailure::Kube(other),
    }
}

async fn wait_for_no_pods(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), StopFailure> {
    let watch_cancel = cancel.child_token();
    let _stop_watch = watch_cancel.clone().drop_guard();
    let mut pods = spawn_pod_watch(client, namespace, selector, &watch_cancel);
    let mut reported = None;
    loop {
        let names: Option<Vec<String>> = match &*pods.borrow() {
            PodView::Starting => None,
            PodView::Known(all) => Some(all.keys().cloned().collect()),
            PodView::Failed(message) => return Err(StopFailure::Watch(message.clone())),
        };
        if let Some(names) = &names {
            if names.is_empty() {
                return Ok(());
            }
            if reported.as_ref() != Some(names) {
                tracing::info!(
                    namespace,
                    pods = %names.join(", "),
                    "drain: waiting for the runner manager's pods to stop"
                );
                reported = Some(names.clone());
            }
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(StopFailure::Cancelled),
            () = tokio::time::sleep_until(deadline) => {
                return Err(StopFailure::TimedOut { remaining: names.unwrap_or_default() });
            }
            changed = pods.changed() => {
                if changed.is_err() {
                    return Err(StopFailure::Watch("the pod watch stopped".to_owned()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_joins_match_labels_in_order() {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "ci-gitlab-runner"},
            "spec": {
                "selector": {"matchLabels": {"release": "ci", "app": "ci-gitlab-runner"}},
                "template": {}
            }
        }))
        .unwrap();
        assert_eq!(
            selector_of(&deployment).as_deref(),
            Some("app=ci-gitlab-runner,release=ci")
        );
        let bare: Deployment = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(selector_of(&bare), None);
    }

    #[test]
    fn scale_patch_sets_only_replicas() {
        assert_eq!(scale_to_zero_patch(), json!({"spec": {"replicas": 0}}));
    }
}
