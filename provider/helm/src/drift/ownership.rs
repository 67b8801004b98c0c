//! Who set a live field: `metadata.managedFields`, read as the API server writes it.
//!
//! Each entry names a field manager and a `FieldsV1` tree: `f:<field>` for map fields,
//! `k:{"name":"web"}` for elements of keyed lists (`"."` marks the element itself), `v:<json>`
//! for elements of set lists; a leaf `{}` owns that field whole (an atomic list such as a
//! RoleBinding's `subjects` is one leaf, owned by its last writer).
//!
//! A manager *touches* a live node when its tree reaches the node (owning it, or something
//! inside it) or owns a list above it whole. [`DriftPolicy`] says which managers do not count:
//! the release's own (`helm`, plus the caller's), the cluster's own components, status writers,
//! and the ones the user asked to ignore.

use serde_json::{Map, Value};

use crate::compare::{Step, StepRef};

/// Managers that are Kubernetes itself: controllers and the kubelet write status and their own
/// bookkeeping, never configuration a release sets.
pub const SYSTEM_MANAGERS: &[&str] = &[
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-apiserver",
];

/// Annotations Kubernetes tools keep for bookkeeping (a rollout's revision, a restart stamp,
/// client-side apply's record); whoever wrote them, they are never drift.
const BOOKKEEPING_ANNOTATIONS: &[&str] = &[
    "deployment.kubernetes.io/",
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubectl.kubernetes.io/restartedAt",
];

/// Which field managers' additions count as drift.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DriftPolicy {
    /// The release's own managers besides `helm` (the provider's, e.g. `gitlabrunner`).
    pub own_managers: Vec<String>,
    /// Managers whose additions are accepted (the user's own operators).
    pub ignored_managers: Vec<String>,
}

impl DriftPolicy {
    /// Whether additions by this manager (writing through `subresource`) are drift.
    pub fn counts(&self, manager: &str, subresource: Option<&str>) -> bool {
        manager != "helm"
            && subresource != Some("status")
            && !SYSTEM_MANAGERS.contains(&manager)
            && !self.own_managers.iter().any(|m| m == manager)
            && !self.ignored_managers.iter().any(|m| m == manager)
    }
}

/// One `managedFields` entry, borrowed from the live object.
#[derive(Debug, Clone)]
struct Entry<'a> {
    manager: &'a str,
    subresource: Option<&'a str>,
    fields: &'a Map<String, Value>,
}

/// The managed fields of one live object (borrowed from it).
#[derive(Debug, Clone, Default)]
pub struct Ownership<'a> {
    entries: Vec<Entry<'a>>,
}

impl<'a> Ownership<'a> {
    /// Reads `metadata.managedFields` (entries that are not `FieldsV1` are skipped).
    pub fn of(live: &'a Value) -> Ownership<'a> {
        let entries = live
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        Some(Entry {
                            manager: item.get("manager")?.as_str()?,
                            subresource: item.get("subresource").and_then(Value::as_str),
                            fields: item.get("fieldsV1")?.as_object()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ownership { entries }
    }

    /// The managers that touch the live node at `steps` and count under `policy`, each once,
    /// in the order the server lists them. Bookkeeping annotations have none.
    pub fn counted_managers(
        &self,
        live: &Value,
        steps: &[Step],
        policy: &DriftPolicy,
    ) -> Vec<String> {
        let steps: Vec<StepRef<'_>> = steps.iter().map(Step::borrowed).collect();
        self.counted_managers_at(live, &steps, policy)
    }

    /// [`Ownership::counted_managers`] for borrowed steps (as a walk hands them out).
    pub fn counted_managers_at(
        &self,
        live: &Value,
        steps: &[StepRef<'_>],
        policy: &DriftPolicy,
    ) -> Vec<String> {
        if is_bookkeeping(steps) {
            return Vec::new();
        }
        let mut found: Vec<String> = Vec::new();
        for entry in &self.entries {
            if policy.counts(entry.manager, entry.subresource)
                && touches(entry.fields, live, steps)
                && !found.iter().any(|m| m == entry.manager)
            {
                found.push(entry.manager.to_owned());
            }
        }
        found
    }
}

fn is_bookkeeping(steps: &[StepRef<'_>]) -> bool {
    let [.., StepRef::Key(parent), StepRef::Key(key)] = steps else {
        return false;
    };
    *parent == "annotations"
        && BOOKKEEPING_ANNOTATIONS
            .iter()
            .any(|known| key == known || (known.ends_with('/') && key.starts_with(known)))
}

/// Whether a `FieldsV1` tree reaches the node at `steps` of `live`, or owns a list above it whole.
fn touches(tree: &Map<String, Value>, live: &Value, steps: &[StepRef<'_>]) -> bool {
    let mut node = tree;
    let mut value = live;
    for step in steps.iter().copied() {
        let (next_value, child) = match step {
            StepRef::Key(key) => (value.get(key), field_token(node, key)),
            StepRef::Name(name) => {
                let element = value.as_array().and_then(|items| {
                    items
                        .iter()
                        .find(|item| item.get("name").and_then(Value::as_str) == Some(name))
                });
                (element, element.and_then(|e| element_token(node, e)))
            }
            StepRef::Index(index) => {
                let element = value.as_array().and_then(|items| items.get(index));
                (element, element.and_then(|e| element_token(node, e)))
            }
        };
        let Some(next_value) = next_value else {
            return false;
        };
        match child.and_then(Value::as_object) {
            Some(child) => {
                node = child;
                value = next_value;
            }
            // A leaf above a list element: the list is owned whole (atomic).
            None => return node.is_empty() && value.is_array() && !std::ptr::eq(node, tree),
        }
    }
    true
}

/// The child `f:<key>` of `node` (found without building the token).
fn field_token<'a>(node: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    node.iter()
        .find_map(|(token, child)| (token.strip_prefix("f:") == Some(key)).then_some(child))
}

/// The child of `node` that stands for list element `element`: `k:{…}` whose keys all match,
/// or `v:<json>` equal to it.
fn element_token<'a>(node: &'a Map<String, Value>, element: &Value) -> Option<&'a Value> {
    node.iter().find_map(|(token, child)| {
        let matches = if let Some(keys) = token.strip_prefix("k:") {
            serde_json::from_str::<Map<String, Value>>(keys)
                .ok()
                .is_some_and(|keys| {
                    !keys.is_empty() && keys.iter().all(|(k, v)| element.get(k) == Some(v))
                })
        } else if let Some(raw) = token.strip_prefix("v:") {
            serde_json::from_str::<Value>(raw).ok().as_ref() == Some(element)
        } else {
            false
        };
        matches.then_some(child)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    fn live() -> Value {
        json!({
            "metadata": {
                "annotations": {"deployment.kubernetes.io/revision": "3", "note": "x"},
                "managedFields": [
                    {"manager": "helm", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"runner\"}": {".": {}, "f:image": {}, "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}},
                    {"manager": "kubectl-set", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"runner\"}": {"f:env": {"k:{\"name\":\"X\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}},
                    {"manager": "kubectl-patch", "operation": "Update", "fieldsV1": {"f:subjects": {}}},
                    {"manager": "kubectl-annotate", "operation": "Update", "fieldsV1": {"f:metadata": {"f:annotations": {"f:note": {}, "f:deployment.kubernetes.io/revision": {}}}}},
                    {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {"f:replicas": {}}}},
                    {"manager": "kubectl", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
                ]
            },
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "runner", "image": "r", "env": [{"name": "A", "value": "1"}, {"name": "X", "value": "1"}]}]}}},
            "subjects": [{"kind": "ServiceAccount", "name": "a"}, {"kind": "ServiceAccount", "name": "b"}],
            "status": {"replicas": 3}
        })
    }

    fn env(name: &str) -> Vec<Step> {
        vec![
            key("spec"),
            key("template"),
            key("spec"),
            key("containers"),
            Step::Name("runner".into()),
            key("env"),
            Step::Name(name.into()),
        ]
    }

    #[test]
    fn keyed_elements_atomic_lists_and_subresources_are_attributed() {
        let live = live();
        let owners = Ownership::of(&live);
        let policy = DriftPolicy::default();
        assert_eq!(
            owners.counted_managers(&live, &env("X"), &policy),
            ["kubectl-set"]
        );
        assert!(
            owners
                .counted_managers(&live, &env("A"), &policy)
                .is_empty()
        );
        assert_eq!(
            owners.counted_managers(&live, &[key("subjects"), Step::Name("b".into())], &policy),
            ["kubectl-patch"]
        );
        assert_eq!(
            owners.counted_managers(&live, &[key("spec"), key("replicas")], &policy),
            ["kubectl"]
        );
        assert!(
            owners
                .counted_managers(&live, &[key("status"), key("replicas")], &policy)
                .is_empty()
        );
        let note = [key("metadata"), key("annotations"), key("note")];
        assert_eq!(
            owners.counted_managers(&live, &note, &policy),
            ["kubectl-annotate"]
        );
        let revision = [
            key("metadata"),
            key("annotations"),
            key("deployment.kubernetes.io/revision"),
        ];
        assert!(
            owners
                .counted_managers(&live, &revision, &policy)
                .is_empty()
        );
        let ignoring = DriftPolicy {
            ignored_managers: vec!["kubectl-set".into()],
            ..DriftPolicy::default()
        };
        assert!(
            owners
                .counted_managers(&live, &env("X"), &ignoring)
                .is_empty()
        );
    }

    #[test]
    fn fields_nobody_owns_have_no_manager() {
        let live = json!({"metadata": {"managedFields": [{"manager": "helm", "fieldsV1": {"f:spec": {"f:a": {}}}}]},
                          "spec": {"a": 1, "defaulted": 2}});
        let owners = Ownership::of(&live);
        assert!(
            owners
                .counted_managers(
                    &live,
                    &[key("spec"), key("defaulted")],
                    &DriftPolicy::default()
                )
                .is_empty()
        );
    }
}
