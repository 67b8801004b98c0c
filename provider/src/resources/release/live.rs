//! The release as it is in the cluster, read natively (no helm process): the newest release
//! Secret and one GET per manifest object. Transient failures are retried a few times, then
//! reported — never read as "the release is gone". Apply's reads ([`history_within`]) retry
//! within the operation's [`Budget`] instead: a release helm has just installed must not be lost
//! to a short API outage.

use std::time::Duration;

use helm_driver::drift::repair::remove_additions as remove_foreign_additions;
use helm_driver::drift::{DriftPolicy, inspect_release_with};
use helm_driver::release::{newest_release, release_selector};
use helm_driver::{
    Drift, DriftChange, DriftError, ReleaseHistory, ReleaseInspection, parse_manifest,
    read_release_history,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use tfplugin::Diagnostic;

use crate::kube::{Action, Budget, FIELD_MANAGER, Verb};

/// Attempts per read (the kube client retries 429/503/504 itself as well).
const ATTEMPTS: u32 = 3;

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(300 * 2_u64.pow(attempt))
}

fn read_error(namespace: &str, name: &str, error: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        "Cannot Read Helm Release",
        format!(
            "Reading release {namespace}/{name} from the cluster failed after {ATTEMPTS} attempts: {error}. \
             The release is kept in state; check the API server and the provider's credentials (they need list on secrets and get on the release's objects in {namespace:?})."
        ),
    )
}

/// The release's revisions (newest decoded), `None` when it does not exist.
pub async fn history(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<ReleaseHistory>, Diagnostic> {
    let mut attempt = 0;
    loop {
        match read_release_history(client, namespace, name).await {
            Ok(found) => return Ok(found),
            Err(error)
                if attempt + 1 < ATTEMPTS
                    && matches!(error, helm_driver::ReleaseReadError::Api { .. }) =>
            {
                tracing::debug!(%error, attempt, "retrying the release read");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(read_error(namespace, name, &error)),
        }
    }
}

/// The release's revisions (newest decoded), `None` when it does not exist. Transient API
/// errors are retried until `budget` runs out or Terraform cancels.
pub async fn history_within(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    budget: &Budget,
) -> Result<Option<ReleaseHistory>, Diagnostic> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&release_selector(name));
    let revisions = format!("sh.helm.release.v1.{name}.*");
    let action = Action::new(Verb::List, "secrets", "", namespace, revisions);
    let list = budget
        .retry(&action, || api.list(&params))
        .await
        .map_err(|error| {
            Diagnostic::error(
                "Cannot Read Helm Release",
                format!(
                    "Reading release {namespace}/{name} from the cluster failed: {error}. \
                     Check the API server and the provider's credentials (they need list on secrets in {namespace:?})."
                ),
            )
        })?;
    newest_release(&list.items).map_err(|error| read_error(namespace, name, &error))
}

/// What counts as drift for a release: additions by anyone but helm, this provider
/// ([`FIELD_MANAGER`]), Kubernetes' own components and the managers the user lists in
/// `drift_ignore_field_managers`.
pub fn drift_policy(ignored: Option<&[String]>) -> DriftPolicy {
    DriftPolicy {
        own_managers: vec![FIELD_MANAGER.to_owned()],
        ignored_managers: ignored.map(<[String]>::to_vec).unwrap_or_default(),
    }
}

/// The release plus its manifest drift, `None` when it does not exist.
pub async fn inspect(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    policy: &DriftPolicy,
) -> Result<Option<ReleaseInspection>, Diagnostic> {
    let mut attempt = 0;
    loop {
        match inspect_release_with(client, namespace, name, policy).await {
            Ok(found) => return Ok(found),
            Err(error) if attempt + 1 < ATTEMPTS && !matches!(error, DriftError::Manifest(_)) => {
                tracing::debug!(%error, attempt, "retrying the release inspection");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(read_error(namespace, name, &error)),
        }
    }
}

/// `Kind namespace/name: field changed|missing|added by <manager>` (a change also says by whom
/// when a foreign field manager owns the field) or `…: object deleted`, deduplicated, in order.
/// Paths and managers only: never a value (Secrets' values stay out of state and plan).
pub fn drift_lines(drifts: &[Drift]) -> Vec<String> {
    let mut lines: Vec<String> = drifts
        .iter()
        .map(|drift| {
            let object = match &drift.namespace {
                Some(namespace) => format!("{} {namespace}/{}", drift.kind, drift.name),
                None => format!("{} {}", drift.kind, drift.name),
            };
            let by = if drift.managers.is_empty() {
                String::new()
            } else {
                format!(" by {}", drift.managers.join(", "))
            };
            match drift.change {
                DriftChange::ObjectDeleted => format!("{object}: object deleted"),
                DriftChange::Missing => format!("{object}: {} missing", drift.field_path),
                DriftChange::Changed => format!("{object}: {} changed{by}", drift.field_path),
                DriftChange::Added => format!("{object}: {} added{by}", drift.field_path),
            }
        })
        .collect();
    lines.dedup();
    lines
}

/// After an upgrade that repairs drift: removes what other field managers added to the release's
/// objects, which `helm upgrade` keeps (see `helm_driver::drift::repair`). Nothing happens when
/// the upgrade was not a repair.
pub async fn remove_additions(
    client: &kube::Client,
    repairing: bool,
    namespace: &str,
    manifest: &str,
    ignored: Option<&[String]>,
) -> Result<(), Diagnostic> {
    if !repairing {
        return Ok(());
    }
    let policy = drift_policy(ignored);
    match remove_foreign_additions(client, namespace, manifest, &policy, FIELD_MANAGER).await {
        Ok(removed) => {
            for object in removed {
                tracing::info!(kind = object.kind, name = object.name, fields = ?object.field_paths, "removed fields added outside Terraform");
            }
            Ok(())
        }
        Err(error) => Err(Diagnostic::error(
            "Cannot Remove Fields Added Outside Terraform",
            format!(
                "The release was upgraded, but removing what other field managers added to its objects failed: {error}. \
                 The next plan shows what is left, and apply tries again."
            ),
        )),
    }
}

/// `Kind/namespace/name` of every object in a manifest (empty when it cannot be parsed).
pub fn manifest_objects(manifest: &str, namespace: &str) -> Vec<String> {
    parse_manifest(manifest, namespace)
        .map(|objects| {
            objects
                .iter()
                .map(|o| match &o.namespace {
                    Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
                    None => format!("{}/{}", o.kind, o.name),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use helm_driver::{DriftChange, DriftValues};

    use super::*;

    fn drift(kind: &str, path: &str, change: DriftChange, managers: &[&str]) -> Drift {
        Drift {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ci".into()),
            name: "gitlab-runner".into(),
            field_path: path.into(),
            steps: Vec::new(),
            change,
            values: Some(DriftValues {
                expected: serde_json::Value::Null,
                actual: Some(serde_json::json!("secret-looking-value")),
            }),
            managers: managers.iter().map(|m| (*m).to_string()).collect(),
        }
    }

    #[test]
    fn lines_say_what_was_added_and_by_whom_but_never_a_value() {
        let lines = drift_lines(&[
            drift(
                "Deployment",
                "spec.template.spec.containers[name=sidecar]",
                DriftChange::Added,
                &["kubectl-patch"],
            ),
            drift(
                "Deployment",
                "spec.replicas",
                DriftChange::Changed,
                &["kubectl"],
            ),
            drift("ConfigMap", "data.runner-name", DriftChange::Changed, &[]),
            drift("Role", "", DriftChange::ObjectDeleted, &[]),
        ]);
        assert_eq!(
            lines,
            [
                "Deployment ci/gitlab-runner: spec.template.spec.containers[name=sidecar] added by kubectl-patch",
                "Deployment ci/gitlab-runner: spec.replicas changed by kubectl",
                "ConfigMap ci/gitlab-runner: data.runner-name changed",
                "Role ci/gitlab-runner: object deleted",
            ]
        );
        assert!(!lines.concat().contains("secret-looking-value"));
    }

    #[test]
    fn the_policy_counts_this_provider_as_the_release_s_own_and_adds_the_ignored() {
        let ignored = ["istio-operator".to_string()];
        let policy = drift_policy(Some(&ignored));
        assert!(!policy.counts(FIELD_MANAGER, None));
        assert!(!policy.counts("helm", None));
        assert!(!policy.counts("istio-operator", None));
        assert!(policy.counts("kubectl-set", None));
        assert!(!policy.counts("kubectl-patch", Some("status")));
    }
}
