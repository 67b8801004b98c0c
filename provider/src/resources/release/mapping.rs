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
use serde_json::Value as Json;
use std::collections::BTreeMap;

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

/// Chart value keys (dotted, as findings name them) and the attribute that sets them, for
/// placing the chart's own findings (`ChartValues::to_values`) at their attribute. Keep it
/// beside [`chart_values`]: a key the mapping sets from a new attribute goes here too when the
/// chart checks it.
pub const ATTRIBUTE_OF_CHART_KEY: &[(&str, ChartAttribute)] = &[
    ("gitlabUrl", ChartAttribute::Attribute("gitlab_url")),
    ("concurrent", ChartAttribute::Attribute("concurrent")),
    (
        "runners.secret",
        ChartAttribute::Attribute("token_secret_name"),
    ),
    ("runners.name", ChartAttribute::Attribute("runner_name")),
    (
        "imagePullSecrets",
        ChartAttribute::Attribute("image_pull_secrets"),
    ),
    (
        "imagePullPolicy",
        ChartAttribute::Attribute("image_pull_policy"),
    ),
    (
        "podAnnotations",
        ChartAttribute::Attribute("pod_annotations"),
    ),
    ("envVars", ChartAttribute::Attribute("env")),
    ("rbac", ChartAttribute::Block("rbac")),
];

/// A whole-number attribute as the chart's `u32` (the schema's ranges keep it in bounds).
fn whole(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

/// `pod_annotations` plus the token digest annotation (unless `pod_annotations` sets it too,
/// which `desired.rs` reports).
fn pod_annotations(model: &ReleaseModel) -> BTreeMap<String, String> {
    let mut annotations = model.pod_annotations.clone().unwrap_or_default();
    if let Some(digest) = model.token_digest.as_ref().filter(|d| is_digest(d)) {
        annotations
            .entry(TOKEN_DIGEST_ANNOTATION.to_owned())
            .or_insert_with(|| digest.clone());
    }
    annotations
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
        unregister_runners: None,
        token_digest: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_key_names_an_attribute_or_block_of_the_schema() {
        let block = super::super::schema::schema().block;
        for (key, source) in ATTRIBUTE_OF_CHART_KEY {
            match source {
                ChartAttribute::Attribute(name) => {
                    assert!(block.attributes.contains_key(*name), "{key} → {name}");
                }
                ChartAttribute::Block(name) => {
                    assert!(block.blocks.contains_key(*name), "{key} → {name}[0]");
                }
            }
        }
    }
}
