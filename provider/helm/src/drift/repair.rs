//! Removing what other field managers added to a release's objects.
//!
//! `helm upgrade` leaves such additions in place: helm 3's three-way merge only touches fields
//! its manifests mention, and helm 4's server-side apply only removes fields `helm` itself owned.
//! So after the upgrade, each manifest object is read again (one GET), the additions that count
//! under the [`DriftPolicy`] are found exactly as the refresh finds them, and each object that has
//! some gets one JSON patch (RFC 6902) with a `remove` per addition. The patch starts with `test`
//! operations — the object's `resourceVersion` and, for a list element, its `name` at that index
//! — so an object changed in between fails the patch (409/422) instead of losing another element;
//! the next refresh then shows what is left. A JSON patch is an `Update`: the removed fields are
//! owned by no one afterwards, and the patch's field manager gains no fields, so it never
//! conflicts with helm's later server-side applies.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::{Drift, DriftChange, DriftError, DriftPolicy, get_live, object_drift_with};
use crate::compare::Step;
use crate::manifest::{ManifestError, parse_manifest};

/// What a repair removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Dotted paths, as drift lines show them.
    pub field_paths: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepairError {
    /// The manifest error's message is part of this one, so it is not also the `source()`.
    #[error("the release manifest could not be parsed: {0}")]
    Manifest(ManifestError),
    #[error(transparent)]
    Read(#[from] DriftError),
    #[error("could not remove {paths} from {kind} {name:?}{}: {reason}", namespace.as_ref().map(|ns| format!(" in namespace {ns:?}")).unwrap_or_default())]
    Patch {
        kind: String,
        namespace: Option<String>,
        name: String,
        paths: String,
        reason: String,
    },
    /// The API server refused the patch or could not be reached; the client's error is kept so
    /// the caller can tell a transient failure (retry the whole repair: it reads again first)
    /// from a permanent one — a 409/422 from the `test` operations means the object changed.
    #[error("could not remove {paths} from {kind} {name:?}{}: {cause}", namespace.as_ref().map(|ns| format!(" in namespace {ns:?}")).unwrap_or_default())]
    Rejected {
        kind: String,
        /// The resource's plural and API group, for RBAC-aware messages.
        plural: String,
        group: String,
        namespace: Option<String>,
        name: String,
        paths: String,
        cause: Box<kube::Error>,
    },
}

impl From<ManifestError> for RepairError {
    fn from(error: ManifestError) -> RepairError {
        RepairError::Manifest(error)
    }
}

/// Removes, from every object of `manifest`, the fields and list elements that managers counted
/// by `policy` added. One GET per object, one PATCH per object that has additions (as
/// `field_manager`). Nothing is retried here: API failures come back with the client's error
/// ([`RepairError::Read`], [`RepairError::Rejected`]) so the caller's retry policy can run the
/// whole repair again — safe, since each patch is guarded by the `resourceVersion` it read.
pub async fn remove_additions(
    client: &kube::Client,
    release_namespace: &str,
    manifest: &str,
    policy: &DriftPolicy,
    field_manager: &str,
) -> Result<Vec<Removed>, RepairError> {
    let objects = parse_manifest(manifest, release_namespace)?;
    let mut removed = Vec::new();
    for object in &objects {
        let Some(live) = get_live(client, object).await? else {
            continue;
        };
        let additions: Vec<Drift> = object_drift_with(object, Some(&live), policy)
            .into_iter()
            .filter(|d| d.change == DriftChange::Added)
            .collect();
        let Some(operations) = removal_patch(&live, &additions) else {
            continue;
        };
        let paths: Vec<String> = additions.iter().map(|d| d.field_path.clone()).collect();
        let resource = &object.resolved.resource;
        let api: Api<DynamicObject> = match &object.namespace {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
            None => Api::all_with(client.clone(), resource),
        };
        let params = PatchParams {
            field_manager: Some(field_manager.to_owned()),
            ..PatchParams::default()
        };
        let patch: json_patch::Patch =
            serde_json::from_value(operations).map_err(|error| RepairError::Patch {
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                paths: paths.join(", "),
                reason: error.to_string(),
            })?;
        tracing::info!(
            kind = object.kind,
            name = object.name,
            fields = paths.join(", "),
            "removing fields other managers added"
        );
        api.patch(&object.name, &params, &Patch::<()>::Json(patch))
            .await
            .map_err(|error| RepairError::Rejected {
                kind: object.kind.clone(),
                plural: resource.plural.clone(),
                group: resource.group.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                paths: paths.join(", "),
                cause: Box::new(error),
            })?;
        removed.push(Removed {
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            field_paths: paths,
        });
    }
    Ok(removed)
}

/// A pointer token and, for a list element, the `name` it must have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Key(String),
    Index(usize, Option<String>),
}

/// The JSON patch removing `additions` from `live`, `None` when there is nothing to remove.
/// Elements of one list are removed from the highest index down, so each index stays valid.
pub(crate) fn removal_patch(live: &Value, additions: &[Drift]) -> Option<Value> {
    let mut pointers: Vec<Vec<Token>> = additions
        .iter()
        .filter_map(|d| pointer_tokens(live, &d.steps))
        .collect();
    pointers.sort();
    pointers.dedup();
    pointers.reverse();
    if pointers.is_empty() {
        return None;
    }
    let mut operations = Vec::new();
    if let Some(version) = live.pointer("/metadata/resourceVersion") {
        operations
            .push(json!({"op": "test", "path": "/metadata/resourceVersion", "value": version}));
    }
    for tokens in &pointers {
        let path = render(tokens);
        if let Some(Token::Index(_, Some(name))) = tokens.last() {
            operations.push(json!({"op": "test", "path": format!("{path}/name"), "value": name}));
        }
        operations.push(json!({"op": "remove", "path": path}));
    }
    Some(Value::Array(operations))
}

fn pointer_tokens(live: &Value, steps: &[Step]) -> Option<Vec<Token>> {
    let mut value = live;
    let mut tokens = Vec::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                value = value.get(key)?;
                tokens.push(Token::Key(key.clone()));
            }
            Step::Index(index) => {
                value = value.get(index)?;
                tokens.push(Token::Index(*index, None));
            }
            Step::Name(name) => {
                let (index, element) = value.as_array()?.iter().enumerate().find(|(_, item)| {
                    item.get("name").and_then(Value::as_str) == Some(name.as_str())
                })?;
                value = element;
                tokens.push(Token::Index(index, Some(name.clone())));
            }
        }
    }
    Some(tokens)
}

fn render(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|token| match token {
            Token::Key(key) => format!("/{}", key.replace('~', "~0").replace('/', "~1")),
            Token::Index(index, _) => format!("/{index}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::object_drift_with;
    use crate::manifest::parse_manifest;

    #[test]
    fn a_manifest_error_says_its_cause_once() {
        let error = RepairError::from(ManifestError::Incomplete {
            index: 2,
            missing: "kind",
        });
        assert_eq!(
            error.to_string(),
            "the release manifest could not be parsed: manifest document 2 has no kind"
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn the_patch_tests_then_removes_from_the_highest_index_down() {
        let manifest = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"template": {"spec": {"containers": [{"name": "runner", "image": "r"}]}}}}"#;
        let object = parse_manifest(manifest, "ci").expect("manifest").remove(0);
        let patch_fields = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"side-a\"}": {".": {}, "f:image": {}},
            "k:{\"name\":\"side-b\"}": {".": {}, "f:image": {}}}}}},
            "f:metadata": {"f:labels": {"f:team/x": {}}}});
        let live = json!({
            "metadata": {"name": "d", "resourceVersion": "42", "labels": {"app": "d", "team/x": "y"},
                         "managedFields": [{"manager": "kubectl-patch", "operation": "Update", "fieldsV1": patch_fields}]},
            "spec": {"template": {"spec": {"containers": [
                {"name": "side-a", "image": "a"}, {"name": "runner", "image": "r"}, {"name": "side-b", "image": "b"}]}}}
        });
        let additions: Vec<Drift> =
            object_drift_with(&object, Some(&live), &DriftPolicy::default())
                .into_iter()
                .filter(|d| d.change == DriftChange::Added)
                .collect();
        assert_eq!(additions.len(), 3, "{additions:?}");
        let patch = removal_patch(&live, &additions).expect("a patch");
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "test", "path": "/spec/template/spec/containers/2/name", "value": "side-b"},
                {"op": "remove", "path": "/spec/template/spec/containers/2"},
                {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "side-a"},
                {"op": "remove", "path": "/spec/template/spec/containers/0"},
                {"op": "remove", "path": "/metadata/labels/team~1x"},
            ])
        );
        let mut repaired = live.clone();
        let operations: json_patch::Patch = serde_json::from_value(patch).expect("valid patch");
        json_patch::patch(&mut repaired, &operations).expect("applies");
        assert_eq!(
            repaired["spec"]["template"]["spec"]["containers"],
            json!([{"name": "runner", "image": "r"}])
        );
        assert_eq!(repaired["metadata"]["labels"], json!({"app": "d"}));
    }
}
