//! After the uninstall: confirm every object of the release manifest is gone (one GET per
//! remaining object per round), except those helm keeps on purpose.

use std::time::Duration;

use helm_driver::ManifestObject;
use kube::api::{Api, DynamicObject};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::target::{ObjectRef, object_ref};
use crate::kube::{Action, Budget, KubeError, Verb};

const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// Why the confirmation stopped.
#[derive(Debug)]
pub enum RemovalFailure {
    Kube(KubeError),
    /// Objects still there at the deadline.
    Remaining(Vec<ObjectRef>),
    Cancelled,
}

/// Whether helm leaves the object behind on uninstall (`helm.sh/resource-policy: keep`).
pub fn kept_by_helm(object: &ManifestObject) -> bool {
    object.body["metadata"]["annotations"]["helm.sh/resource-policy"].as_str() == Some("keep")
}

/// Waits until none of `objects` (other than those helm keeps) exists.
pub async fn confirm_gone(
    client: &kube::Client,
    objects: &[ManifestObject],
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), RemovalFailure> {
    let mut remaining: Vec<&ManifestObject> = objects
        .iter()
        .filter(|object| !kept_by_helm(object))
        .collect();
    loop {
        let budget = Budget::with_token(
            deadline.saturating_duration_since(Instant::now()),
            cancel.clone(),
        );
        let mut still = Vec::new();
        for object in remaining {
            if exists(client, object, &budget).await? {
                still.push(object);
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        remaining = still;
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(RemovalFailure::Cancelled),
            () = tokio::time::sleep_until(deadline) => {
                return Err(RemovalFailure::Remaining(remaining.into_iter().map(object_ref).collect()));
            }
            () = tokio::time::sleep(RECHECK_EVERY) => {}
        }
    }
}

async fn exists(
    client: &kube::Client,
    object: &ManifestObject,
    budget: &Budget,
) -> Result<bool, RemovalFailure> {
    let resource = &object.resolved.resource;
    let api: Api<DynamicObject> = match (&object.namespace, object.resolved.namespaced) {
        (Some(namespace), true) => Api::namespaced_with(client.clone(), namespace, resource),
        _ => Api::all_with(client.clone(), resource),
    };
    let action = Action::new(
        Verb::Get,
        resource.plural.clone(),
        resource.group.clone(),
        object.namespace.clone().unwrap_or_default(),
        object.name.clone(),
    );
    match budget.retry(&action, || api.get_opt(&object.name)).await {
        // An object with a deletionTimestamp still exists (finalizers run): wait for it.
        Ok(found) => Ok(found.is_some()),
        Err(KubeError::Cancelled { .. }) => Err(RemovalFailure::Cancelled),
        // The object, or its whole namespace, is gone.
        Err(KubeError::Api { code: 404, .. }) => Ok(false),
        Err(error) => Err(RemovalFailure::Kube(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_with_the_keep_policy_are_not_waited_for() {
        let manifest = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: kept
  annotations: {helm.sh/resource-policy: keep}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: removed}
";
        let objects = helm_driver::parse_manifest(manifest, "ns").unwrap();
        let kept: Vec<bool> = objects.iter().map(kept_by_helm).collect();
        assert_eq!(kept, vec![true, false]);
    }
}
