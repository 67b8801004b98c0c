//! [`Objects`]: the few calls resources make on namespaced objects, each retried within a
//! [`Budget`] and reported as a [`KubeError`] that names the verb, resource and namespace.

use std::collections::BTreeMap;
use std::fmt::Debug;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use super::error::KubeError;
use super::identity::FIELD_MANAGER;
use super::ownership;
use super::request::{Action, Verb};
use super::retry::Budget;

/// Namespaced objects of one kind in one namespace.
pub struct Objects<K> {
    api: Api<K>,
    namespace: String,
}

/// Keys to remove from an object this provider manages: labels, annotations, and keys of
/// top-level maps such as a Secret's `data`, that someone added outside Terraform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruning {
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    /// Top-level field (`"data"`) → keys to remove from it.
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Pruning {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
            && self.annotations.is_empty()
            && self.fields.values().all(Vec::is_empty)
    }

    /// The JSON merge patch that removes the keys.
    pub fn merge_patch(&self) -> Json {
        let nulls =
            |keys: &[String]| Json::Object(keys.iter().map(|k| (k.clone(), Json::Null)).collect());
        let mut root = Map::new();
        let mut metadata = Map::new();
        if !self.labels.is_empty() {
            metadata.insert("labels".into(), nulls(&self.labels));
        }
        if !self.annotations.is_empty() {
            metadata.insert("annotations".into(), nulls(&self.annotations));
        }
        if !metadata.is_empty() {
            root.insert("metadata".into(), Json::Object(metadata));
        }
        for (field, keys) in &self.fields {
            if !keys.is_empty() {
                root.insert(field.clone(), nulls(keys));
            }
        }
        Json::Object(root)
    }
}

impl<K> Objects<K>
where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    pub fn new(client: kube::Client, namespace: &str) -> Objects<K> {
        Objects {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    /// The [`Action`] describing `verb` on object `name` (for messages).
    pub fn action(&self, verb: Verb, name: &str) -> Action {
        Action::new(
            verb,
            K::plural(&()),
            K::group(&()),
            self.namespace.clone(),
            name,
        )
    }

    /// The object, or `None` when it does not exist. A missing namespace is also `None` (the
    /// object cannot exist there).
    pub async fn get(&self, name: &str, budget: &Budget) -> Result<Option<K>, KubeError> {
        let action = self.action(Verb::Get, name);
        match budget.retry(&action, || self.api.get(name)).await {
            Ok(object) => Ok(Some(object)),
            Err(KubeError::Api { code: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Server-side apply of `object` with field manager `gitlabrunner`, taking over fields
    /// someone changed by hand (force).
    pub async fn apply(&self, name: &str, object: &K, budget: &Budget) -> Result<K, KubeError> {
        let action = self.action(Verb::Patch, name);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(object);
        budget
            .retry(&action, || self.api.patch(name, &params, &patch))
            .await
    }

    /// Creates (or takes back) object `name`: refuses with [`KubeError::NotOwned`] when it exists
    /// without this provider's managed-by label; `resource_type` is named in that error.
    pub async fn create(
        &self,
        name: &str,
        object: &K,
        resource_type: &str,
        budget: &Budget,
    ) -> Result<K, KubeError> {
        let existing = self.get(name, budget).await?;
        ownership::check_can_create(
            existing.as_ref().map(kube::Resource::meta),
            K::kind(&()).as_ref(),
            &self.namespace,
            name,
            resource_type,
        )?;
        self.apply(name, object, budget).await
    }

    /// Removes keys someone added outside Terraform (a JSON merge patch); returns the object as
    /// it is afterwards, or `live` unchanged when there is nothing to remove.
    pub async fn prune(
        &self,
        name: &str,
        live: K,
        pruning: &Pruning,
        budget: &Budget,
    ) -> Result<K, KubeError> {
        if pruning.is_empty() {
            return Ok(live);
        }
        let action = self.action(Verb::Patch, name);
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(pruning.merge_patch());
        budget
            .retry(&action, || self.api.patch(name, &params, &patch))
            .await
    }

    /// Deletes object `name`; an object (or namespace) that is already gone is success.
    pub async fn delete(&self, name: &str, budget: &Budget) -> Result<(), KubeError> {
        let action = self.action(Verb::Delete, name);
        let params = DeleteParams::default();
        let result = budget
            .retry(&action, || async {
                // The answer (the deleted object, possibly a Secret) is never decoded or kept.
                self.api.delete(name, &params).await.map(|_| ())
            })
            .await;
        match result {
            Ok(()) | Err(KubeError::Api { code: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_builds_a_merge_patch_of_nulls() {
        let p = Pruning {
            labels: vec!["team".into()],
            annotations: vec![],
            fields: BTreeMap::from([("data".to_owned(), vec!["extra".to_owned()])]),
        };
        assert_eq!(
            p.merge_patch(),
            serde_json::json!({"metadata": {"labels": {"team": null}}, "data": {"extra": null}})
        );
        assert!(Pruning::default().is_empty());
    }
}
