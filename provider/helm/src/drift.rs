//! Manifest drift: GET each object of the release manifest (one request each) and compare the
//! fields the manifest sets (see [`crate::compare`] for the rules), plus what was added to it.
//!
//! An addition — a live field or named list element the manifest does not set — is drift when a
//! field manager that counts under the [`DriftPolicy`] touches it (see [`ownership`]): not
//! `helm`, not the caller's own managers, not Kubernetes' own components or status writers, not
//! a manager the user chose to ignore. Server defaults (owned by no one) and what a webhook
//! added during helm's request (owned by `helm`) are therefore not drift; an env var added with
//! `kubectl set env` (owned by `kubectl-set`) is. The managers come with the GETs already made.
//!
//! Many releases read in one refresh share their reads instead ([`inspect_release_shared`] with a
//! [`ReadCache`]): one LIST per kind and namespace, whose items carry managedFields as well.

pub mod ownership;
pub mod repair;
pub mod shared_reads;

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, DynamicObject};

use crate::compare::{Step, compare_object, live_extras_where};
use crate::manifest::{ManifestError, ManifestObject, parse_manifest};
use crate::release::{ReleaseHistory, ReleaseReadError, read_release_history};
pub use ownership::DriftPolicy;
use ownership::Ownership;
pub use shared_reads::ReadCache;

/// How many object GETs run at once.
const CONCURRENT_GETS: usize = 8;

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftChange {
    /// The manifest sets the field; the live object lacks it.
    Missing,
    /// The live value differs.
    Changed,
    /// The whole object is gone.
    ObjectDeleted,
    /// The live object has a field or list element the manifest does not set, added by a field
    /// manager that counts (named in [`Drift::managers`]).
    Added,
}

/// Expected and live value of a drifted field. Never present for Secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftValues {
    pub expected: serde_json::Value,
    pub actual: Option<serde_json::Value>,
}

/// One drifted field (or deleted object).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Dotted path (`spec.template.spec.containers[name=runner].image`); empty for
    /// [`DriftChange::ObjectDeleted`].
    pub field_path: String,
    /// The same path as steps.
    pub steps: Vec<Step>,
    pub change: DriftChange,
    /// `None` for Secrets and deleted objects.
    pub values: Option<DriftValues>,
    /// The field managers (counted under the policy) that own the live field: who added it, or
    /// who changed it. Empty when no such manager is recorded.
    pub managers: Vec<String>,
}

/// The outcome of a drift check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriftReport {
    pub drifts: Vec<Drift>,
    /// Objects checked.
    pub objects_checked: usize,
    /// API requests made: one GET per object, or (with a [`ReadCache`]) the LISTs and GETs this
    /// check made itself.
    pub api_requests: usize,
    /// Kinds whose resource name had to be guessed (not in the built-in table).
    pub guessed_kinds: Vec<String>,
    /// Every object of the manifest, in manifest order (the manifest is parsed once; a caller
    /// that lists the release's objects takes them from here).
    pub objects: Vec<ObjectRef>,
}

/// Which object of a manifest: kind, namespace (`None` for cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn of(object: &ManifestObject) -> ObjectRef {
        ObjectRef {
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        }
    }
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.drifts.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// The manifest error's message is part of this one, so it is not also the `source()`.
    #[error("the release manifest could not be parsed: {0}")]
    Manifest(ManifestError),
    #[error("could not read {kind} {name:?}{}: {cause}", namespace.as_ref().map(|ns| format!(" in namespace {ns:?}")).unwrap_or_default())]
    Api {
        kind: String,
        /// The kind's API group, version and resource plural, for messages naming the RBAC rule.
        api: Box<kube::discovery::ApiResource>,
        namespace: Option<String>,
        name: String,
        /// The client's error, kept whole so the caller can classify it (retry or not).
        cause: Box<kube::Error>,
    },
    #[error(transparent)]
    Release(#[from] ReleaseReadError),
}

impl From<ManifestError> for DriftError {
    fn from(error: ManifestError) -> DriftError {
        DriftError::Manifest(error)
    }
}

/// Compares one manifest object with its live state (`None` = not found) under the default
/// policy (only `helm` is the release's own manager). Pure.
pub fn object_drift(object: &ManifestObject, live: Option<&serde_json::Value>) -> Vec<Drift> {
    object_drift_with(object, live, &DriftPolicy::default())
}

/// Compares one manifest object with its live state (`None` = not found): changed and missing
/// fields, and additions by managers that count under `policy`. Pure.
pub fn object_drift_with(
    object: &ManifestObject,
    live: Option<&serde_json::Value>,
    policy: &DriftPolicy,
) -> Vec<Drift> {
    let drift = |(field_path, steps): (String, Vec<Step>),
                 change: DriftChange,
                 values: Option<DriftValues>,
                 managers: Vec<String>| Drift {
        api_version: object.api_version.clone(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        field_path,
        steps,
        change,
        values,
        managers,
    };
    let Some(live) = live else {
        return vec![drift(
            (String::new(), Vec::new()),
            DriftChange::ObjectDeleted,
            None,
            Vec::new(),
        )];
    };
    let secret = object.kind == "Secret" && object.api_version == "v1";
    let owners = Ownership::of(live);
    let mut drifts: Vec<Drift> = compare_object(&object.kind, &object.body, live)
        .into_iter()
        .map(|difference| {
            let change = if difference.missing {
                DriftChange::Missing
            } else {
                DriftChange::Changed
            };
            let managers = if difference.missing {
                Vec::new()
            } else {
                owners.counted_managers(live, &difference.steps, policy)
            };
            let values = (!secret).then_some(DriftValues {
                expected: difference.expected,
                actual: difference.actual,
            });
            drift(
                (difference.path, difference.steps),
                change,
                values,
                managers,
            )
        })
        .collect();
    // Only extras some counted manager added are kept (most are server defaults).
    let mut counted: Vec<Vec<String>> = Vec::new();
    let extras = live_extras_where(&object.kind, &object.body, live, &mut |steps| {
        let managers = owners.counted_managers_at(live, steps, policy);
        let keep = !managers.is_empty();
        if keep {
            counted.push(managers);
        }
        keep
    });
    for (extra, managers) in extras.into_iter().zip(counted) {
        let values = (!secret).then(|| DriftValues {
            expected: serde_json::Value::Null,
            actual: value_at(live, &extra.steps).cloned(),
        });
        drifts.push(drift(
            (extra.path, extra.steps),
            DriftChange::Added,
            values,
            managers,
        ));
    }
    drifts
}

/// The live value at `steps`.
fn value_at<'a>(live: &'a serde_json::Value, steps: &[Step]) -> Option<&'a serde_json::Value> {
    steps.iter().try_fold(live, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
        Step::Name(name) => value.as_array()?.iter().find(|item| {
            item.get("name").and_then(serde_json::Value::as_str) == Some(name.as_str())
        }),
    })
}

/// Parses `manifest` and checks every object against the cluster, one GET per object, under the
/// default policy.
pub async fn check_manifest_drift(
    client: &kube::Client,
    release_namespace: &str,
    manifest: &str,
) -> Result<DriftReport, DriftError> {
    check_manifest_drift_with(client, release_namespace, manifest, &DriftPolicy::default()).await
}

/// Parses `manifest` and checks every object against the cluster, one GET per object.
pub async fn check_manifest_drift_with(
    client: &kube::Client,
    release_namespace: &str,
    manifest: &str,
    policy: &DriftPolicy,
) -> Result<DriftReport, DriftError> {
    check_manifest(client, None, release_namespace, manifest, policy).await
}

/// The manifest check, reading live objects through `reads` when given (shared LISTs), else one
/// GET per object.
async fn check_manifest(
    client: &kube::Client,
    reads: Option<&ReadCache>,
    release_namespace: &str,
    manifest: &str,
    policy: &DriftPolicy,
) -> Result<DriftReport, DriftError> {
    let objects = parse_manifest(manifest, release_namespace)?;
    let requests = AtomicUsize::new(0);
    // The GET futures are made before they are streamed: a closure inside the stream's type
    // would make this future not provably `Send` (a higher-ranked lifetime).
    let checks: Vec<_> = objects
        .iter()
        .map(|object| drift_of(client, reads, object, &requests, policy))
        .collect();
    let results: Vec<Vec<Drift>> = futures::stream::iter(checks)
        .buffered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    let mut guessed_kinds: Vec<String> = objects
        .iter()
        .filter(|o| !o.resolved.known)
        .map(|o| format!("{}/{}", o.api_version, o.kind))
        .collect();
    guessed_kinds.sort();
    guessed_kinds.dedup();
    Ok(DriftReport {
        drifts: results.into_iter().flatten().collect(),
        objects_checked: objects.len(),
        api_requests: requests.load(Ordering::Relaxed),
        guessed_kinds,
        objects: objects.iter().map(ObjectRef::of).collect(),
    })
}

/// The drift of one manifest object against its live copy (one GET, or the shared listing).
async fn drift_of(
    client: &kube::Client,
    reads: Option<&ReadCache>,
    object: &ManifestObject,
    requests: &AtomicUsize,
    policy: &DriftPolicy,
) -> Result<Vec<Drift>, DriftError> {
    let drifts = match reads {
        Some(reads) => {
            let live = reads.live_object(client, object, requests).await?;
            object_drift_with(object, live.as_deref(), policy)
        }
        None => {
            requests.fetch_add(1, Ordering::Relaxed);
            let live = get_live(client, object).await?;
            object_drift_with(object, live.as_ref(), policy)
        }
    };
    Ok(drifts)
}

/// The live copy of a manifest object (`None` when it does not exist), managedFields included.
pub async fn get_live_object(
    client: &kube::Client,
    object: &ManifestObject,
) -> Result<Option<serde_json::Value>, DriftError> {
    get_live(client, object).await
}

async fn get_live(
    client: &kube::Client,
    object: &ManifestObject,
) -> Result<Option<serde_json::Value>, DriftError> {
    let resource = &object.resolved.resource;
    let api: Api<DynamicObject> = match &object.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let fetched = api
        .get_opt(&object.name)
        .await
        .map_err(|error| DriftError::Api {
            kind: object.kind.clone(),
            api: Box::new(object.resolved.resource.clone()),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            cause: Box::new(error),
        })?;
    fetched.map(|live| to_json(object, &live)).transpose()
}

/// A live object as JSON (managedFields included).
fn to_json(object: &ManifestObject, live: &DynamicObject) -> Result<serde_json::Value, DriftError> {
    serde_json::to_value(live).map_err(|error| DriftError::Api {
        kind: object.kind.clone(),
        api: Box::new(object.resolved.resource.clone()),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        cause: Box::new(kube::Error::SerdeError(error)),
    })
}

/// A release read natively plus its manifest drift.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseInspection {
    pub history: ReleaseHistory,
    pub drift: DriftReport,
    /// Every API request made: one release list plus one GET per manifest object, or (with a
    /// [`ReadCache`]) only the requests this inspection made itself.
    pub api_requests: usize,
}

/// Reads the release (one list) and checks its manifest against the cluster (one GET per
/// object) under the default policy. `Ok(None)` when the release does not exist.
pub async fn inspect_release(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Option<ReleaseInspection>, DriftError> {
    inspect_release_with(client, namespace, release, &DriftPolicy::default()).await
}

/// As [`inspect_release`], counting additions under `policy`.
pub async fn inspect_release_with(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    policy: &DriftPolicy,
) -> Result<Option<ReleaseInspection>, DriftError> {
    let Some(history) = read_release_history(client, namespace, release).await? else {
        return Ok(None);
    };
    let drift =
        check_manifest_drift_with(client, namespace, &history.latest.manifest, policy).await?;
    let api_requests = 1 + drift.api_requests;
    Ok(Some(ReleaseInspection {
        history,
        drift,
        api_requests,
    }))
}

/// As [`inspect_release_with`], but the release Secrets and the live objects come from the
/// listings `reads` shares between the releases of one refresh (see [`shared_reads`]):
/// `api_requests` counts only the requests this call made (a listing another release already
/// made costs nothing).
pub async fn inspect_release_shared(
    client: &kube::Client,
    reads: &ReadCache,
    namespace: &str,
    release: &str,
    policy: &DriftPolicy,
) -> Result<Option<ReleaseInspection>, DriftError> {
    let listed = AtomicUsize::new(0);
    let Some(history) = reads
        .release_history(client, namespace, release, &listed)
        .await?
    else {
        return Ok(None);
    };
    let drift = check_manifest(
        client,
        Some(reads),
        namespace,
        &history.latest.manifest,
        policy,
    )
    .await?;
    let api_requests = listed.load(Ordering::Relaxed) + drift.api_requests;
    Ok(Some(ReleaseInspection {
        history,
        drift,
        api_requests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_manifest_error_says_its_cause_once() {
        let error = DriftError::from(ManifestError::Incomplete {
            index: 1,
            missing: "metadata.name",
        });
        assert_eq!(
            error.to_string(),
            "the release manifest could not be parsed: manifest document 1 has no metadata.name"
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    fn object(kind: &str, api_version: &str, body: serde_json::Value) -> ManifestObject {
        let manifest = serde_json::to_string(&body).unwrap();
        let mut objects = parse_manifest(&manifest, "ci").unwrap();
        let object = objects.remove(0);
        assert_eq!(
            (object.kind.as_str(), object.api_version.as_str()),
            (kind, api_version)
        );
        object
    }

    #[test]
    fn a_deleted_object_is_one_drift_without_path() {
        let cm = object(
            "ConfigMap",
            "v1",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        );
        let drifts = object_drift(&cm, None);
        assert_eq!(drifts.len(), 1);
        assert_eq!(drifts[0].change, DriftChange::ObjectDeleted);
        assert_eq!(
            (drifts[0].namespace.as_deref(), drifts[0].name.as_str()),
            (Some("ci"), "c")
        );
        assert_eq!(drifts[0].field_path, "");
    }

    #[test]
    fn secret_drift_never_carries_values_but_others_do() {
        let secret = object(
            "Secret",
            "v1",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "glrt-x"}}),
        );
        let drifts = object_drift(&secret, Some(&json!({"data": {"token": "b3RoZXI="}})));
        assert_eq!(drifts.len(), 1);
        assert_eq!(
            (drifts[0].field_path.as_str(), drifts[0].change),
            ("stringData.token", DriftChange::Changed)
        );
        assert_eq!(drifts[0].values, None);
        assert!(!format!("{drifts:?}").contains("glrt-x"));

        let cm = object(
            "ConfigMap",
            "v1",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}),
        );
        let drifts = object_drift(&cm, Some(&json!({"data": {"a": "2"}})));
        assert_eq!(
            drifts[0].values,
            Some(DriftValues {
                expected: json!("1"),
                actual: Some(json!("2"))
            })
        );
    }
}

/// The inspection futures can be spawned on a multi-threaded runtime.
#[cfg(test)]
mod send_checks {
    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn inspection_futures_are_send(client: &kube::Client) {
        assert_send(&super::inspect_release(client, "ns", "release"));
        assert_send(&super::check_manifest_drift(client, "ns", ""));
        assert_send(&super::inspect_release_with(
            client,
            "ns",
            "release",
            &super::DriftPolicy::default(),
        ));
        let reads = super::ReadCache::new();
        assert_send(&super::inspect_release_shared(
            client,
            &reads,
            "ns",
            "release",
            &super::DriftPolicy::default(),
        ));
    }
}

#[cfg(test)]
mod addition_tests {
    use serde_json::json;

    use super::*;

    fn object(body: serde_json::Value) -> ManifestObject {
        parse_manifest(&body.to_string(), "ci").unwrap().remove(0)
    }

    #[test]
    fn additions_count_by_who_made_them_and_secret_values_stay_out() {
        let binding = object(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "runner"}]}),
        );
        let live = json!({"metadata": {"name": "rb", "managedFields": [
                {"manager": "helm", "operation": "Apply", "fieldsV1": {"f:roleRef": {"f:kind": {}, "f:name": {}}}},
                {"manager": "kubectl-patch", "operation": "Update", "fieldsV1": {"f:subjects": {}}}]},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "runner"}, {"kind": "ServiceAccount", "name": "default"}]});
        let drifts = object_drift_with(&binding, Some(&live), &DriftPolicy::default());
        assert_eq!(drifts.len(), 1, "{drifts:?}");
        assert_eq!(drifts[0].change, DriftChange::Added);
        assert_eq!(drifts[0].field_path, "subjects[name=default]");
        assert_eq!(drifts[0].managers, ["kubectl-patch"]);

        // The same element added under helm's manager (a webhook during helm's request), or by
        // nobody (a default), is not drift.
        let mut by_helm = live.clone();
        by_helm["metadata"]["managedFields"][1]["manager"] = json!("helm");
        assert!(object_drift_with(&binding, Some(&by_helm), &DriftPolicy::default()).is_empty());
        let mut by_nobody = live.clone();
        by_nobody["metadata"]["managedFields"] = json!([]);
        assert!(object_drift_with(&binding, Some(&by_nobody), &DriftPolicy::default()).is_empty());
        // A manager the user ignores.
        let policy = DriftPolicy {
            own_managers: vec![],
            ignored_managers: vec!["kubectl-patch".into()],
        };
        assert!(object_drift_with(&binding, Some(&live), &policy).is_empty());

        let secret = object(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"runner-token": "glrt-x"}}),
        );
        let live = json!({"metadata": {"name": "s", "managedFields": [
                {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:extra": {}}}}]},
            "data": {"runner-token": "Z2xydC14", "extra": "c2VjcmV0LXZhbHVl"}});
        let drifts = object_drift_with(&secret, Some(&live), &DriftPolicy::default());
        assert_eq!(drifts.len(), 1, "{drifts:?}");
        assert_eq!(
            (drifts[0].field_path.as_str(), drifts[0].change),
            ("data.extra", DriftChange::Added)
        );
        assert_eq!(drifts[0].values, None);
        assert!(!format!("{drifts:?}").contains("c2VjcmV0LXZhbHVl"));
    }
}
