//! Attributes every namespaced-object resource shares (`id`, `namespace`, `name`, `labels`,
//! `annotations`, `uid`, `timeouts`) and how they are refreshed from the live object.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use tfplugin::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use tfplugin::timeouts::{self, Operation, Timeouts};
use tfplugin::validators::from_fn;
use tfplugin::{
    Attribute, AttributePath, Context, Diagnostics, Document, ImportRequest, ImportResponse,
    NestedBlock, OpResult, PrivateState, Schema, Type, Value,
};

use crate::ProviderConfig;
use crate::kube::{
    Budget, MANAGED_BY_LABEL, ObjectId, Objects, client_for, dns1123_label_validator,
    dns1123_subdomain_validator,
};

/// Time limits when the `timeouts` block leaves an operation unset.
pub const DEFAULT_CREATE: Duration = Duration::from_secs(120);
pub const DEFAULT_READ: Duration = Duration::from_secs(60);
pub const DEFAULT_UPDATE: Duration = Duration::from_secs(120);
pub const DEFAULT_DELETE: Duration = Duration::from_secs(120);

/// Annotations other tools write on objects they touch; never tracked or removed.
const UNTRACKED_ANNOTATION_PREFIXES: &[&str] = &["kubectl.kubernetes.io/"];

pub fn id_attribute() -> Attribute {
    Attribute::string()
        .computed()
        .plan_modifier(UseStateForUnknown)
        .description("`namespace/name` of the Secret (also the import ID).")
}

/// The planned `id` (`namespace/name`) of a namespaced-object resource (the Secret resources,
/// the release): `None` until both are known. Both attributes are required, so the plan holds
/// the configuration's values.
pub fn planned_id(plan: &Document) -> Option<ObjectId> {
    let known = |name: &str| plan.attr(&AttributePath::new(name)).and_then(Value::as_str);
    Some(ObjectId::new(known("namespace")?, known("name")?))
}

pub fn uid_attribute() -> Attribute {
    Attribute::string()
        .computed()
        .plan_modifier(UseStateForUnknown)
        .description("The Secret's Kubernetes UID (changes when the Secret is re-created).")
}

pub fn namespace_attribute() -> Attribute {
    Attribute::string()
        .required()
        .plan_modifier(RequiresReplace)
        .validator(dns1123_label_validator())
        .description("Namespace of the Secret; it must exist. Changing it re-creates the Secret.")
}

pub fn name_attribute() -> Attribute {
    Attribute::string()
        .required()
        .plan_modifier(RequiresReplace)
        .validator(dns1123_subdomain_validator())
        .description("Name of the Secret. Changing it re-creates the Secret.")
}

pub fn labels_attribute() -> Attribute {
    Attribute::map(Type::String)
        .optional()
        .validator(from_fn(
            "must not set the provider's managed-by label",
            |value, path, diagnostics: &mut Diagnostics| {
                if value.as_entries().is_some_and(|m| m.contains_key(MANAGED_BY_LABEL)) {
                    diagnostics.attribute_error(
                        path.key(MANAGED_BY_LABEL),
                        "Reserved Label",
                        format!("The provider sets {MANAGED_BY_LABEL} itself to recognise the objects it manages; remove it from {path}."),
                    );
                }
            },
        ))
        .description("Labels of the Secret (the provider adds `app.kubernetes.io/managed-by = terraform-provider-gitlabrunner`). Labels added outside Terraform show as drift and are removed on apply.")
}

pub fn annotations_attribute() -> Attribute {
    Attribute::map(Type::String)
        .optional()
        .validator(from_fn(
            "must not set annotations other tools own (kubectl.kubernetes.io/…)",
            |value, path, diagnostics: &mut Diagnostics| {
                for key in value.as_entries().into_iter().flat_map(|m| m.keys()) {
                    if !is_tracked_annotation(key) {
                        diagnostics.attribute_error(
                            path.key(key),
                            "Reserved Annotation",
                            format!("{key:?} is written by kubectl, not by Terraform; remove it from {path}."),
                        );
                    }
                }
            },
        ))
        .description("Annotations of the Secret. Annotations added outside Terraform show as drift and are removed on apply (except `kubectl.kubernetes.io/…`).")
}

pub fn timeouts_block() -> NestedBlock {
    timeouts::block(&[
        Operation::Create,
        Operation::Read,
        Operation::Update,
        Operation::Delete,
    ])
}

/// A Secret resource's schema with the attributes every Secret resource has: `id`,
/// `namespace`, `name`, `labels`, `annotations`, `uid` and the `timeouts` block.
pub fn secret_schema(description: &str) -> Schema {
    Schema::new()
        .description(description)
        .attribute("id", id_attribute())
        .attribute("namespace", namespace_attribute())
        .attribute("name", name_attribute())
        .attribute("labels", labels_attribute())
        .attribute("annotations", annotations_attribute())
        .attribute("uid", uid_attribute())
        .block(timeouts::BLOCK_NAME, timeouts_block())
}

/// Private-state flag set by `import`: the next `read` adopts the Secret as it finds it.
pub const IMPORTED: &str = "imported";

/// `import` of `namespace/name`: the attributes `read` needs to find the Secret, flagged as
/// imported.
pub fn import_secret(request: &ImportRequest, response: &mut ImportResponse) -> OpResult {
    let id = ObjectId::parse_import_id(&request.id)?;
    response
        .state
        .set_attr(&AttributePath::new("id"), &id.to_string())?;
    response
        .state
        .set_attr(&AttributePath::new("namespace"), &id.namespace)?;
    response
        .state
        .set_attr(&AttributePath::new("name"), &id.name)?;
    response.private.set(IMPORTED, &true)?;
    Ok(())
}

/// Whether this `read` follows an `import`; clears the flag so only the first read adopts.
pub fn take_import_flag(
    prior: &PrivateState,
    private: &mut PrivateState,
) -> Result<bool, Diagnostics> {
    let imported = prior.get::<bool>(IMPORTED)?.unwrap_or(false);
    if imported {
        private.remove(IMPORTED);
    }
    Ok(imported)
}

/// The Secret named by the state's `namespace`/`name`, for `read` (within its read timeout);
/// `None` when it is gone.
pub async fn read_secret(ctx: &Context, state: &Document) -> Result<Option<Secret>, Diagnostics> {
    let (objects, name) = secret_objects(ctx, state).await?;
    let budget = budget(state, Operation::Read, ctx)?;
    Ok(objects.get(&name, &budget).await?)
}

/// `delete` of the Secret the prior state names, within its delete timeout; one already gone
/// is a success.
pub async fn delete_secret(ctx: &Context, prior_state: &Document) -> OpResult {
    let (objects, name) = secret_objects(ctx, prior_state).await?;
    let budget = budget(prior_state, Operation::Delete, ctx)?;
    objects.delete(&name, &budget).await?;
    Ok(())
}

/// The Secrets API of the state's namespace and the Secret's name.
async fn secret_objects(
    ctx: &Context,
    state: &Document,
) -> Result<(Objects<Secret>, String), Diagnostics> {
    let namespace: String = state.get_attr(&AttributePath::new("namespace"))?;
    let name: String = state.get_attr(&AttributePath::new("name"))?;
    let provider = ctx.provider::<ProviderConfig>()?;
    Ok((Objects::new(client_for(&provider).await?, &namespace), name))
}

/// The budget for `operation` from the document's `timeouts` block.
pub fn budget(doc: &Document, operation: Operation, ctx: &Context) -> Result<Budget, Diagnostics> {
    let default = match operation {
        Operation::Create => DEFAULT_CREATE,
        Operation::Read => DEFAULT_READ,
        Operation::Update => DEFAULT_UPDATE,
        Operation::Delete => DEFAULT_DELETE,
    };
    let limit = Timeouts::from_document(doc)?.get(operation, default)?;
    Ok(Budget::new(limit, ctx))
}

/// Labels as Terraform tracks them: the live labels without the managed-by label. An absent
/// attribute stays absent while the object has no other labels.
pub fn tracked_labels(
    live: Option<&BTreeMap<String, String>>,
    prior: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let tracked: BTreeMap<String, String> = live
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != MANAGED_BY_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    keep_absent(tracked, prior)
}

/// Annotations as Terraform tracks them (other tools' `kubectl.kubernetes.io/…` left out).
pub fn tracked_annotations(
    live: Option<&BTreeMap<String, String>>,
    prior: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let tracked: BTreeMap<String, String> = live
        .into_iter()
        .flatten()
        .filter(|(k, _)| is_tracked_annotation(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    keep_absent(tracked, prior)
}

pub fn is_tracked_annotation(key: &str) -> bool {
    !UNTRACKED_ANNOTATION_PREFIXES
        .iter()
        .any(|p| key.starts_with(p))
}

fn keep_absent(
    tracked: BTreeMap<String, String>,
    prior: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    if tracked.is_empty() && prior.is_none() {
        None
    } else {
        Some(tracked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::MANAGED_BY_VALUE;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_planned_id_is_namespace_slash_name_once_both_are_known() {
        let ty = std::sync::Arc::new(Type::object([
            ("namespace", Type::String),
            ("name", Type::String),
        ]));
        let plan = |namespace: Value, name: Value| {
            Document::new(
                ty.clone(),
                Value::object([("namespace", namespace), ("name", name)]),
            )
        };
        let id = planned_id(&plan(Value::from("ci"), Value::from("runner")));
        assert_eq!(id.map(|id| id.to_string()).as_deref(), Some("ci/runner"));
        assert!(planned_id(&plan(Value::from("ci"), Value::Unknown)).is_none());
        assert!(planned_id(&plan(Value::Null, Value::from("runner"))).is_none());
    }

    #[test]
    fn the_managed_by_label_is_not_tracked_and_absence_is_kept() {
        let live = map(&[(MANAGED_BY_LABEL, MANAGED_BY_VALUE)]);
        assert_eq!(tracked_labels(Some(&live), None), None);
        assert_eq!(tracked_labels(Some(&live), Some(&map(&[]))), Some(map(&[])));
        let edited = map(&[(MANAGED_BY_LABEL, MANAGED_BY_VALUE), ("team", "ci")]);
        assert_eq!(
            tracked_labels(Some(&edited), None),
            Some(map(&[("team", "ci")]))
        );
    }

    #[test]
    fn kubectl_annotations_are_not_tracked() {
        let live = map(&[
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
            ("note", "x"),
        ]);
        assert_eq!(
            tracked_annotations(Some(&live), None),
            Some(map(&[("note", "x")]))
        );
    }
}
