//! The model → chart values mapping: one pure function, no diagnostics. Every attribute it reads
//! was checked by the schema's validators (`schema.rs`, `validators.rs`) and by `desired.rs`
//! (checks across attributes) before; a value that could still not be used is left out rather
//! than guessed.
//!
//! A new attribute that becomes a chart value: the schema (`schema.rs`), the model
//! (`model.rs`) and one line here.

use gitlab_runner_chart::values::{
    Capabilities, ContainerSecurityContext, PodSecurityContext, PolicyRule, ResourceRequirements,
    SeccompProfile, Toleration,
};
use gitlab_runner_chart::{
    ChartValues, EnvVar, ImageRef, LogFormat, LogLevel, Rbac, RunnersValues, ServiceAccount,
    TOKEN_DIGEST_ANNOTATION,
};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use tfplugin::{AttributePath, Type};

use super::model::ReleaseModel;
use super::validators::is_digest;

/// Where a chart value comes from, for findings about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartAttribute {
    /// A top-level attribute.
    Attribute(&'static str),
    /// A single nested block (`name[0]`).
    Block(&'static str),
}

/// How a chart value reads back into its attribute (import of a release installed by plain
/// helm, and `moved` from `helm_release`): the reverse of what [`chart_values`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    /// The value as it is (string, whole number, bool, list of strings, string map).
    AsIs,
    /// `[{name}]` → a list of names (`imagePullSecrets`).
    Names,
    /// `[{name, value}]` → a map (`envVars`).
    EnvVars,
    /// RBAC `PolicyRule`s → `rule` blocks.
    Rules,
    /// Tolerations → `toleration` blocks.
    Tolerations,
    /// A JSON object → its JSON text (`affinity`).
    JsonText,
}

/// One chart value key the typed attributes set: the dotted key, the attribute (or a field of
/// a single nested block: `field`) and how it reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartKey {
    pub key: &'static str,
    pub source: ChartAttribute,
    /// For a single nested block: the block's attribute this key sets (`None` for a list of
    /// blocks, which the whole value becomes).
    pub field: Option<&'static str>,
    pub conv: Conv,
}

const fn attribute(key: &'static str, name: &'static str, conv: Conv) -> ChartKey {
    ChartKey {
        key,
        source: ChartAttribute::Attribute(name),
        field: None,
        conv,
    }
}

const fn field(key: &'static str, block: &'static str, name: &'static str, conv: Conv) -> ChartKey {
    ChartKey {
        key,
        source: ChartAttribute::Block(block),
        field: Some(name),
        conv,
    }
}

/// THE table of chart value keys and the attributes that set them, used in both directions:
/// placing the chart's own findings (`ChartValues::to_values`) at their attribute, and reading
/// a release's values back into attributes ([`read_back`]). A key [`chart_values`] sets from a
/// new attribute goes here too (`adopt_tests::every_value_input_reads_back_through_the_key_table`
/// fails until it does). Findings take the first entry whose key is a prefix of theirs.
pub const CHART_KEYS: &[ChartKey] = &[
    attribute("gitlabUrl", "gitlab_url", Conv::AsIs),
    attribute("concurrent", "concurrent", Conv::AsIs),
    attribute("runners.secret", "token_secret_name", Conv::AsIs),
    attribute("runners.name", "runner_name", Conv::AsIs),
    attribute("runners.config", "runner_config_toml", Conv::AsIs),
    attribute("imagePullSecrets", "image_pull_secrets", Conv::Names),
    attribute("imagePullPolicy", "image_pull_policy", Conv::AsIs),
    attribute("podAnnotations", "pod_annotations", Conv::AsIs),
    attribute("envVars", "env", Conv::EnvVars),
    field("rbac.create", "rbac", "create", Conv::AsIs),
    field("rbac.clusterWideAccess", "rbac", "cluster_wide", Conv::AsIs),
    field("rbac.rules", "rbac", "rule", Conv::Rules),
    attribute("checkInterval", "check_interval", Conv::AsIs),
    attribute("logLevel", "log_level", Conv::AsIs),
    attribute("logFormat", "log_format", Conv::AsIs),
    attribute("shutdown_timeout", "shutdown_timeout", Conv::AsIs),
    attribute(
        "terminationGracePeriodSeconds",
        "termination_grace_period_seconds",
        Conv::AsIs,
    ),
    attribute("replicas", "replicas", Conv::AsIs),
    field("image.registry", "image", "registry", Conv::AsIs),
    field("image.image", "image", "image", Conv::AsIs),
    field("image.tag", "image", "tag", Conv::AsIs),
    attribute("useTini", "use_tini", Conv::AsIs),
    field(
        "serviceAccount.create",
        "service_account",
        "create",
        Conv::AsIs,
    ),
    field("serviceAccount.name", "service_account", "name", Conv::AsIs),
    field(
        "serviceAccount.annotations",
        "service_account",
        "annotations",
        Conv::AsIs,
    ),
    attribute(
        "serviceAccount.imagePullSecrets",
        "image_pull_secrets",
        Conv::AsIs,
    ),
    field(
        "securityContext.runAsNonRoot",
        "security_context",
        "run_as_non_root",
        Conv::AsIs,
    ),
    field(
        "securityContext.runAsUser",
        "security_context",
        "run_as_user",
        Conv::AsIs,
    ),
    field(
        "securityContext.runAsGroup",
        "security_context",
        "run_as_group",
        Conv::AsIs,
    ),
    field(
        "securityContext.allowPrivilegeEscalation",
        "security_context",
        "allow_privilege_escalation",
        Conv::AsIs,
    ),
    field(
        "securityContext.readOnlyRootFilesystem",
        "security_context",
        "read_only_root_filesystem",
        Conv::AsIs,
    ),
    field(
        "securityContext.privileged",
        "security_context",
        "privileged",
        Conv::AsIs,
    ),
    field(
        "securityContext.capabilities.add",
        "security_context",
        "capabilities_add",
        Conv::AsIs,
    ),
    field(
        "securityContext.capabilities.drop",
        "security_context",
        "capabilities_drop",
        Conv::AsIs,
    ),
    field(
        "securityContext.seccompProfile.type",
        "security_context",
        "seccomp_profile_type",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.runAsNonRoot",
        "pod_security_context",
        "run_as_non_root",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.runAsUser",
        "pod_security_context",
        "run_as_user",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.runAsGroup",
        "pod_security_context",
        "run_as_group",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.fsGroup",
        "pod_security_context",
        "fs_group",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.fsGroupChangePolicy",
        "pod_security_context",
        "fs_group_change_policy",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.supplementalGroups",
        "pod_security_context",
        "supplemental_groups",
        Conv::AsIs,
    ),
    field(
        "podSecurityContext.seccompProfile.type",
        "pod_security_context",
        "seccomp_profile_type",
        Conv::AsIs,
    ),
    field("resources.requests", "resources", "requests", Conv::AsIs),
    field("resources.limits", "resources", "limits", Conv::AsIs),
    attribute("nodeSelector", "node_selector", Conv::AsIs),
    ChartKey {
        key: "tolerations",
        source: ChartAttribute::Block("toleration"),
        field: None,
        conv: Conv::Tolerations,
    },
    attribute("affinity", "affinity", Conv::JsonText),
    attribute("podLabels", "pod_labels", Conv::AsIs),
    attribute("certsSecretName", "cert_secret_name", Conv::AsIs),
];

/// A whole-number attribute as the chart's `u32` (the schema's ranges keep it in bounds).
fn whole(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// `pod_annotations` plus the digest annotations (unless `pod_annotations` sets one too, which
/// `desired.rs` reports).
fn pod_annotations(model: &ReleaseModel) -> BTreeMap<String, String> {
    let mut annotations = model.pod_annotations.clone().unwrap_or_default();
    for (annotation, digest) in digest_annotations(model) {
        annotations.entry(annotation).or_insert(digest);
    }
    annotations
}

/// The pod annotation a `secret_digests` entry becomes: `gitlabrunner.io/<name>-digest`
/// (`token` is [`TOKEN_DIGEST_ANNOTATION`], the one `token_digest` sets).
pub fn secret_digest_annotation(name: &str) -> String {
    format!("gitlabrunner.io/{name}-digest")
}

/// The digest annotations `token_digest` and `secret_digests` ask for (digests only), so a
/// changed Secret changes the pod template and rolls the manager.
pub fn digest_annotations(model: &ReleaseModel) -> BTreeMap<String, String> {
    let secrets = model.secret_digests.iter().flatten();
    let named = secrets.map(|(name, digest)| (secret_digest_annotation(name), digest));
    let token = model
        .token_digest
        .iter()
        .map(|digest| (TOKEN_DIGEST_ANNOTATION.to_owned(), digest));
    token
        .chain(named)
        .filter(|(_, digest)| is_digest(digest))
        .map(|(annotation, digest)| (annotation, digest.clone()))
        .collect()
}

/// The chart values a release model describes, with `runner_config` as `runners.config` and
/// `runner_name` as `runners.name`.
pub fn chart_values(
    model: &ReleaseModel,
    runner_config: String,
    runner_name: String,
) -> ChartValues {
    let rbac = model.rbac.first().map(|r| Rbac {
        create: r.create.unwrap_or(false),
        cluster_wide_access: r.cluster_wide.unwrap_or(false),
        rules: r
            .rule
            .iter()
            .map(|rule| PolicyRule {
                api_groups: rule.api_groups.clone().unwrap_or_default(),
                resources: rule.resources.clone().unwrap_or_default(),
                verbs: rule.verbs.clone().unwrap_or_default(),
                resource_names: rule.resource_names.clone().unwrap_or_default(),
            })
            .collect(),
        allow_chart_default_rules: r.allow_chart_default_rules.unwrap_or(false),
    });
    let seccomp = |t: &Option<String>| {
        t.as_ref().map(|profile_type| SeccompProfile {
            profile_type: profile_type.clone(),
            localhost_profile: None,
        })
    };
    ChartValues {
        gitlab_url: model.gitlab_url.clone().unwrap_or_default(),
        concurrent: whole(model.concurrent),
        check_interval: whole(model.check_interval),
        log_level: model.log_level.as_deref().and_then(LogLevel::parse),
        log_format: model.log_format.as_deref().and_then(LogFormat::parse),
        shutdown_timeout: whole(model.shutdown_timeout),
        termination_grace_period_seconds: model
            .termination_grace_period_seconds
            .and_then(|seconds| u64::try_from(seconds).ok()),
        replicas: whole(model.replicas),
        image: model
            .image
            .first()
            .map(|i| ImageRef {
                registry: i.registry.clone(),
                image: i.image.clone(),
                tag: i.tag.clone(),
            })
            .unwrap_or_default(),
        image_pull_policy: model.image_pull_policy.clone(),
        use_tini: model.use_tini,
        image_pull_secrets: model.image_pull_secrets.clone().unwrap_or_default(),
        rbac: rbac.unwrap_or_default(),
        service_account: model
            .service_account
            .first()
            .map(|s| ServiceAccount {
                create: s.create,
                name: s.name.clone(),
                annotations: s.annotations.clone().unwrap_or_default(),
            })
            .unwrap_or_default(),
        security_context: model
            .security_context
            .first()
            .map(|c| ContainerSecurityContext {
                run_as_non_root: c.run_as_non_root,
                run_as_user: c.run_as_user,
                run_as_group: c.run_as_group,
                allow_privilege_escalation: c.allow_privilege_escalation,
                read_only_root_filesystem: c.read_only_root_filesystem,
                privileged: c.privileged,
                capabilities: (c.capabilities_add.is_some() || c.capabilities_drop.is_some()).then(
                    || Capabilities {
                        add: c.capabilities_add.clone().unwrap_or_default(),
                        drop: c.capabilities_drop.clone().unwrap_or_default(),
                    },
                ),
                seccomp_profile: seccomp(&c.seccomp_profile_type),
            }),
        pod_security_context: model
            .pod_security_context
            .first()
            .map(|c| PodSecurityContext {
                run_as_non_root: c.run_as_non_root,
                run_as_user: c.run_as_user,
                run_as_group: c.run_as_group,
                fs_group: c.fs_group,
                fs_group_change_policy: c.fs_group_change_policy.clone(),
                supplemental_groups: c.supplemental_groups.clone().unwrap_or_default(),
                seccomp_profile: seccomp(&c.seccomp_profile_type),
            }),
        resources: model
            .resources
            .first()
            .map(|r| ResourceRequirements {
                requests: r.requests.clone().unwrap_or_default(),
                limits: r.limits.clone().unwrap_or_default(),
            })
            .unwrap_or_default(),
        node_selector: model.node_selector.clone().unwrap_or_default(),
        tolerations: model
            .toleration
            .iter()
            .map(|t| Toleration {
                key: t.key.clone(),
                operator: t.operator.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
                toleration_seconds: t.toleration_seconds,
            })
            .collect(),
        affinity: model
            .affinity
            .as_deref()
            .and_then(|text| serde_json::from_str::<Json>(text).ok())
            .filter(Json::is_object),
        pod_annotations: pod_annotations(model),
        pod_labels: model.pod_labels.clone().unwrap_or_default(),
        env_vars: model
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| EnvVar { name, value })
            .collect(),
        certs_secret_name: model.cert_secret_name.clone(),
        runners: RunnersValues {
            config: runner_config,
            name: Some(runner_name),
            secret: model.token_secret_name.clone().unwrap_or_default(),
            cache_secret_name: model
                .runner
                .first()
                .and_then(|r| r.cache.first())
                .and_then(|c| c.secret_name.clone()),
            job_namespace: None,
        },
        // glrt- tokens: the preStop `unregister --all-runners` would remove this pod's runner
        // manager (older runners: the runner) at every restart and upgrade; the drain and
        // `delete_runner_on_destroy` handle removal instead (issue 15).
        unregister_runners: Some(false),
        token_digest: None,
    }
}

/// A release's values read back through [`CHART_KEYS`]: the attributes (JSON in the
/// attribute's shape, blocks as lists of objects) and what no attribute covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadBack {
    pub attributes: BTreeMap<String, Json>,
    /// The values no typed attribute took (for `values`): nothing is dropped silently.
    pub rest: Map<String, Json>,
    /// `rbac.create` without rules: the chart's default rules were installed.
    pub chart_default_rules: bool,
}

/// The value at a dotted key.
fn value_at<'a>(values: &'a Json, key: &str) -> Option<&'a Json> {
    key.split('.')
        .try_fold(values, |value, part| value.get(part))
}

/// Removes the value at a dotted key, and the objects it leaves empty.
fn remove_at(values: &mut Map<String, Json>, key: &str) {
    match key.split_once('.') {
        None => {
            values.remove(key);
        }
        Some((head, tail)) => {
            if let Some(Json::Object(inner)) = values.get_mut(head) {
                remove_at(inner, tail);
                if inner.is_empty() {
                    values.remove(head);
                }
            }
        }
    }
}

/// `[{k1, k2…}]` → `[{attr1, attr2…}]`, renaming keys; `None` when an item has another key.
fn rename_items(value: &Json, names: &[(&str, &str)]) -> Option<Json> {
    let items = value.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut object = Map::new();
        for (key, inner) in item.as_object()? {
            let (_, name) = names.iter().find(|(chart, _)| chart == key)?;
            object.insert((*name).to_owned(), inner.clone());
        }
        out.push(Json::Object(object));
    }
    Some(Json::Array(out))
}

fn convert(value: &Json, conv: Conv) -> Option<Json> {
    match conv {
        Conv::AsIs => Some(value.clone()),
        Conv::Names => value
            .as_array()?
            .iter()
            .map(|item| {
                let object = item.as_object()?;
                (object.len() == 1)
                    .then(|| object.get("name").cloned())
                    .flatten()
            })
            .collect::<Option<Vec<_>>>()
            .map(Json::Array),
        Conv::EnvVars => {
            let mut env = Map::new();
            for item in value.as_array()? {
                let object = item.as_object()?;
                if object.len() != 2 {
                    return None;
                }
                let name = object.get("name")?.as_str()?;
                let value = object.get("value")?.as_str()?;
                env.insert(name.to_owned(), Json::String(value.to_owned()));
            }
            Some(Json::Object(env))
        }
        Conv::Rules => rename_items(
            value,
            &[
                ("apiGroups", "api_groups"),
                ("resources", "resources"),
                ("verbs", "verbs"),
                ("resourceNames", "resource_names"),
            ],
        ),
        Conv::Tolerations => rename_items(
            value,
            &[
                ("key", "key"),
                ("operator", "operator"),
                ("value", "value"),
                ("effect", "effect"),
                ("tolerationSeconds", "toleration_seconds"),
            ],
        ),
        Conv::JsonText => value.is_object().then(|| Json::String(value.to_string())),
    }
}

/// The digest annotations [`digest_annotations`] writes, taken out of `annotations` back into
/// `token_digest` and `secret_digests` (digests only; anything else stays an annotation).
fn take_digest_annotations(
    annotations: &mut Map<String, Json>,
    attributes: &mut BTreeMap<String, Json>,
) {
    let mut secret_digests = Map::new();
    annotations.retain(|annotation, value| {
        let Some(digest) = value.as_str().filter(|d| is_digest(d)) else {
            return true;
        };
        if annotation == TOKEN_DIGEST_ANNOTATION {
            attributes.insert("token_digest".to_owned(), Json::from(digest));
            return false;
        }
        let name = annotation
            .strip_prefix("gitlabrunner.io/")
            .and_then(|rest| rest.strip_suffix("-digest"))
            .filter(|name| super::validators::is_secret_digest_name(name));
        match name {
            Some(name) => {
                secret_digests.insert(name.to_owned(), Json::from(digest));
                false
            }
            None => true,
        }
    });
    if !secret_digests.is_empty() {
        attributes.insert("secret_digests".to_owned(), Json::Object(secret_digests));
    }
}

/// Whether `value` fits the schema type at `path` of `ty` (the release's value type).
fn fits(ty: &Type, path: &AttributePath, value: &Json) -> bool {
    let Some(at) = tfplugin::document::type_at(ty, path) else {
        return false;
    };
    tfplugin::model::to_value(value)
        .ok()
        .is_some_and(|v| v.conform(at).is_ok())
}

/// Reads chart `values` (a release's user-supplied values) back into attributes through
/// [`CHART_KEYS`]; `ty` is the release's value type. A value whose shape an attribute cannot
/// hold stays in [`ReadBack::rest`]. The token digest pod annotation becomes `token_digest`.
pub fn read_back(values: &Json, ty: &Type) -> ReadBack {
    let mut out = ReadBack {
        rest: values.as_object().cloned().unwrap_or_default(),
        ..ReadBack::default()
    };
    let mut blocks: BTreeMap<&str, Map<String, Json>> = BTreeMap::new();
    for entry in CHART_KEYS {
        let Some(value) = value_at(values, entry.key).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(mut converted) = convert(value, entry.conv) else {
            continue;
        };
        if entry.key == "podAnnotations"
            && let Some(annotations) = converted.as_object_mut()
        {
            take_digest_annotations(annotations, &mut out.attributes);
        }
        let taken = match (entry.source, entry.field) {
            (ChartAttribute::Attribute(name), _) | (ChartAttribute::Block(name), None) => {
                let fits_here = fits(ty, &AttributePath::new(name), &converted);
                match out.attributes.get(name) {
                    // Set twice (imagePullSecrets): only when both agree.
                    Some(existing) => fits_here && *existing == converted,
                    None if fits_here => {
                        out.attributes.insert(name.to_owned(), converted);
                        true
                    }
                    None => false,
                }
            }
            (ChartAttribute::Block(block), Some(name)) => {
                let path = AttributePath::new(block).index(0).attr(name);
                fits(ty, &path, &converted) && {
                    blocks
                        .entry(block)
                        .or_default()
                        .insert(name.to_owned(), converted);
                    true
                }
            }
        };
        if taken {
            remove_at(&mut out.rest, entry.key);
        }
    }
    if let Some(rbac) = blocks.get_mut("rbac") {
        let creates = rbac.get("create") == Some(&Json::Bool(true));
        let no_rules = rbac
            .get("rule")
            .and_then(Json::as_array)
            .is_none_or(Vec::is_empty);
        if creates && no_rules {
            rbac.insert("allow_chart_default_rules".to_owned(), Json::Bool(true));
            out.chart_default_rules = true;
        }
    }
    for (block, object) in blocks {
        out.attributes
            .insert(block.to_owned(), Json::Array(vec![Json::Object(object)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_key_names_an_attribute_or_block_of_the_schema() {
        let ty = super::super::schema::schema().value_type();
        for entry in CHART_KEYS {
            let path = match (entry.source, entry.field) {
                (ChartAttribute::Attribute(name), _) | (ChartAttribute::Block(name), None) => {
                    AttributePath::new(name)
                }
                (ChartAttribute::Block(block), Some(name)) => {
                    AttributePath::new(block).index(0).attr(name)
                }
            };
            assert!(
                tfplugin::document::type_at(&ty, &path).is_some(),
                "{} → {path}",
                entry.key
            );
        }
    }
}
