//! What a configuration asks for: the chart values helm gets, their digest, the runner
//! config.toml and the chart source — with every problem as a diagnostic at its attribute.
//! Pure: used at validate, plan and apply time alike.

use gitlab_runner_chart::values::{
    Capabilities, ContainerSecurityContext, PodSecurityContext, PolicyRule, ResourceRequirements,
    SeccompProfile, Toleration,
};
use gitlab_runner_chart::{
    ChartValues, ConfigPath, EnvVar, Finding, ImageRef, LogFormat, LogLevel, PathSegment, Rbac,
    RunnersValues, ServiceAccount, Severity, TOKEN_DIGEST_ANNOTATION, render, scan_for_credentials,
    validate_runner_config,
};
use helm_driver::ChartSource;
use serde_json::{Map, Value as Json};
use tfplugin::{AttributePath, Block, Diagnostic, Diagnostics};

use super::digest::values_digest;
use super::model::ReleaseModel;
use super::runner::runner_input;
use super::schema::runner_block;
use super::source::{chart_source, check_chart_source};

/// The release a configuration describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The values file helm gets (typed values with `values` merged last).
    pub values: Json,
    /// [`values_digest`] of `values`.
    pub values_digest: String,
    /// `runners.config`.
    pub runner_config: String,
    /// `runners.name`.
    pub runner_name: String,
    pub chart: ChartSource,
}

/// The default `runner_name`: stable, so job-pod labels stay stable.
pub fn default_runner_name(namespace: &str, name: &str) -> String {
    format!("{namespace}-{name}")
}

/// Builds the desired release; warnings (and errors) go to `diagnostics`. `None` when there are
/// errors.
pub fn desired(model: &ReleaseModel, diagnostics: &mut Diagnostics) -> Option<Desired> {
    let errors_before = diagnostics.iter().filter(|d| d.is_error()).count();
    let runner_name = model
        .runner_name
        .known()
        .cloned()
        .unwrap_or_else(|| default_runner_name(&model.namespace, &model.name));
    check_chart_source(model, diagnostics);
    let runner_config = runner_config(model, diagnostics);
    let chart_values = chart_values(
        model,
        runner_config.clone().unwrap_or_default(),
        runner_name.clone(),
        diagnostics,
    );
    let typed = chart_values.and_then(|values| match values.to_values() {
        Ok(tree) => Some(tree),
        Err(findings) => {
            for finding in findings {
                diagnostics.push(chart_finding(&finding));
            }
            None
        }
    });
    let merged = typed.and_then(|typed| {
        merge_values(
            typed,
            model.values.as_deref().unwrap_or_default(),
            diagnostics,
        )
    });
    let errors_after = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    let values = merged?;
    let runner_config = runner_config?;
    Some(Desired {
        values_digest: values_digest(&values),
        values,
        runner_config,
        runner_name,
        chart: chart_source(model),
    })
}

/// The runner TOML from exactly one of `runner` and `runner_config_toml`.
fn runner_config(model: &ReleaseModel, diagnostics: &mut Diagnostics) -> Option<String> {
    match (model.runner.first(), &model.runner_config_toml) {
        (Some(_), Some(_)) => {
            diagnostics.push(
                Diagnostic::error(
                    "Conflicting Runner Configuration",
                    "Set either the runner block (typed settings) or runner_config_toml (raw TOML), not both.",
                )
                .at(AttributePath::new("runner_config_toml")),
            );
            None
        }
        (None, None) => {
            diagnostics.push(
                Diagnostic::error(
                    "Missing Runner Configuration",
                    "The runner config.toml is required: add a runner block (typed settings) or runner_config_toml (raw TOML).",
                )
                .at(AttributePath::new("runner")),
            );
            None
        }
        (Some(runner), None) => {
            let base = AttributePath::new("runner").index(0);
            let input = match runner_input(runner, &base) {
                Ok(input) => input,
                Err(errors) => {
                    for error in errors {
                        diagnostics.push(
                            Diagnostic::error("Invalid Runner Setting", error.detail)
                                .at(error.path),
                        );
                    }
                    return None;
                }
            };
            match render(&input) {
                Ok(rendered) => {
                    for finding in &rendered.warnings {
                        diagnostics.push(typed_runner_finding(finding, &base));
                    }
                    Some(rendered.toml)
                }
                Err(findings) => {
                    for finding in &findings {
                        diagnostics.push(typed_runner_finding(finding, &base));
                    }
                    None
                }
            }
        }
        (None, Some(text)) => {
            let findings = validate_runner_config(text);
            let mut failed = false;
            for finding in &findings {
                failed |= finding.is_error();
                diagnostics.push(raw_toml_finding(finding));
            }
            (!failed).then(|| text.clone())
        }
    }
}

fn diagnostic_of(finding: &Finding, detail: String) -> Diagnostic {
    match finding.severity {
        Severity::Error => Diagnostic::error(finding.summary.clone(), detail),
        Severity::Warning => Diagnostic::warning(finding.summary.clone(), detail),
    }
}

/// A finding in `runner_config_toml`: the attribute path, with line and column in the detail.
pub fn raw_toml_finding(finding: &Finding) -> Diagnostic {
    let mut detail = String::new();
    if let Some(position) = finding.position {
        detail.push_str(&format!("runner_config_toml {position}"));
        if !finding.path.is_root() {
            detail.push_str(&format!(" ({})", finding.path));
        }
        detail.push_str(": ");
    } else if !finding.path.is_root() {
        detail.push_str(&format!("runner_config_toml at {}: ", finding.path));
    }
    detail.push_str(&finding.detail);
    diagnostic_of(finding, detail).at(AttributePath::new("runner_config_toml"))
}

/// A finding about the TOML rendered from the `runner` block, placed at the attribute it came
/// from as far as the block structure tells (`runners[0].kubernetes.privileged` →
/// `runner[0].kubernetes[0].privileged`).
pub fn typed_runner_finding(finding: &Finding, base: &AttributePath) -> Diagnostic {
    let path = attribute_of(&finding.path, base, &runner_block());
    let detail = if finding.path.is_root() {
        finding.detail.clone()
    } else {
        format!("{} (config.toml {})", finding.detail, finding.path)
    };
    diagnostic_of(finding, detail).at(path)
}

fn attribute_of(config_path: &ConfigPath, base: &AttributePath, block: &Block) -> AttributePath {
    let mut path = base.clone();
    let mut block = block.clone();
    let mut segments = config_path.segments().iter().peekable();
    // Skip the `runners[0]` prefix.
    if let Some(PathSegment::Key(first)) = segments.peek()
        && first == "runners"
    {
        segments.next();
        if let Some(PathSegment::Index(_)) = segments.peek() {
            segments.next();
        }
    }
    for segment in segments {
        let PathSegment::Key(key) = segment else {
            break;
        };
        if let Some(nested) = block.blocks.get(key.as_str()) {
            path = path.attr(key.clone()).index(0);
            block = nested.block.clone();
        } else {
            if block.attributes.contains_key(key.as_str()) {
                path = path.attr(key.clone());
            }
            break;
        }
    }
    path
}

/// Attribute of a chart values path that a typed attribute sets.
fn chart_attribute(path: &ConfigPath) -> AttributePath {
    let text = path.to_string();
    let first = |prefix: &str| {
        text == prefix
            || text.starts_with(&format!("{prefix}."))
            || text.starts_with(&format!("{prefix}["))
    };
    let name = if first("gitlabUrl") {
        "gitlab_url"
    } else if first("concurrent") {
        "concurrent"
    } else if first("runners.secret") {
        "token_secret_name"
    } else if first("runners.name") {
        "runner_name"
    } else if first("imagePullSecrets") {
        "image_pull_secrets"
    } else if first("imagePullPolicy") {
        "image_pull_policy"
    } else if first("podAnnotations") {
        "pod_annotations"
    } else if first("envVars") {
        "env"
    } else if first("rbac") {
        return AttributePath::new("rbac").index(0);
    } else {
        return AttributePath::root();
    };
    AttributePath::new(name)
}

fn chart_finding(finding: &Finding) -> Diagnostic {
    let path = chart_attribute(&finding.path);
    let d = diagnostic_of(finding, finding.detail.clone());
    if path.is_root() { d } else { d.at(path) }
}

fn u32_attr(value: Option<i64>, name: &str, diagnostics: &mut Diagnostics) -> Option<u32> {
    let value = value?;
    match u32::try_from(value) {
        Ok(v) => Some(v),
        Err(_) => {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid Attribute Value",
                    format!("{name} must be between 0 and {}, got {value}.", u32::MAX),
                )
                .at(AttributePath::new(name)),
            );
            None
        }
    }
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn chart_values(
    model: &ReleaseModel,
    runner_config: String,
    runner_name: String,
    diagnostics: &mut Diagnostics,
) -> Option<ChartValues> {
    let errors_before = diagnostics.iter().filter(|d| d.is_error()).count();
    let parse_enum =
        |value: &Option<String>, name: &str, diagnostics: &mut Diagnostics, ok: bool| {
            if value.is_some() && !ok {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid Attribute Value",
                        format!("{name} has an unsupported value."),
                    )
                    .at(AttributePath::new(name)),
                );
            }
        };
    let log_level = model.log_level.as_deref().and_then(LogLevel::parse);
    parse_enum(
        &model.log_level,
        "log_level",
        diagnostics,
        log_level.is_some(),
    );
    let log_format = model.log_format.as_deref().and_then(LogFormat::parse);
    parse_enum(
        &model.log_format,
        "log_format",
        diagnostics,
        log_format.is_some(),
    );
    let termination_grace_period_seconds =
        match model.termination_grace_period_seconds.map(u64::try_from) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid Attribute Value",
                        "termination_grace_period_seconds must not be negative.",
                    )
                    .at(AttributePath::new("termination_grace_period_seconds")),
                );
                None
            }
        };
    let affinity = match &model.affinity {
        None => None,
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(object)) => Some(Json::Object(object)),
            Ok(_) | Err(_) => {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid Affinity",
                        "affinity must be a JSON object (a Kubernetes Affinity), e.g. jsonencode({ nodeAffinity = { … } }).",
                    )
                    .at(AttributePath::new("affinity")),
                );
                None
            }
        },
    };
    let mut pod_annotations = model.pod_annotations.clone().unwrap_or_default();
    if let Some(digest) = &model.token_digest {
        if !is_digest(digest) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid Token Digest",
                    "token_digest must be a digest such as gitlabrunner_token_secret.<name>.token_digest (\"sha256:\" and 64 hex digits) — never the token itself.",
                )
                .at(AttributePath::new("token_digest")),
            );
        } else if pod_annotations.contains_key(TOKEN_DIGEST_ANNOTATION) {
            diagnostics.push(
                Diagnostic::error(
                    "Reserved Pod Annotation",
                    format!("The pod annotation {TOKEN_DIGEST_ANNOTATION} is set from token_digest; remove it from pod_annotations."),
                )
                .at(AttributePath::new("pod_annotations")),
            );
        } else {
            pod_annotations.insert(TOKEN_DIGEST_ANNOTATION.to_owned(), digest.clone());
        }
    }
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
    let values = ChartValues {
        gitlab_url: model.gitlab_url.clone().unwrap_or_default(),
        concurrent: u32_attr(model.concurrent, "concurrent", diagnostics),
        check_interval: u32_attr(model.check_interval, "check_interval", diagnostics),
        log_level,
        log_format,
        shutdown_timeout: u32_attr(model.shutdown_timeout, "shutdown_timeout", diagnostics),
        termination_grace_period_seconds,
        replicas: u32_attr(model.replicas, "replicas", diagnostics),
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
        affinity,
        pod_annotations,
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
    };
    let errors_after = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(values)
}

/// Merges the `values` documents over the typed values: a key a typed attribute sets is an
/// error; credentials anywhere are warnings; later documents override earlier ones.
fn merge_values(typed: Json, documents: &[String], diagnostics: &mut Diagnostics) -> Option<Json> {
    let mut merged = match typed.clone() {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    let mut failed = false;
    for (index, document) in documents.iter().enumerate() {
        let path = AttributePath::new("values").index(index);
        let user = match gitlab_runner_chart::values::parse_user_values(document) {
            Ok(user) => user,
            Err(error) => {
                failed = true;
                diagnostics.push(
                    Diagnostic::error("Invalid Values YAML", format!("values[{index}]: {error}."))
                        .at(path),
                );
                continue;
            }
        };
        let conflicts = gitlab_runner_chart::values::user_values_conflicts(&typed, &user);
        if !conflicts.is_empty() {
            failed = true;
            diagnostics.push(
                Diagnostic::error(
                    "Values Conflict With Typed Attributes",
                    format!(
                        "values[{index}] sets {} that typed attributes already set: {}. Remove them from values, or set them only through the typed attributes.",
                        if conflicts.len() == 1 { "a key" } else { "keys" },
                        conflicts.join(", ")
                    ),
                )
                .at(path.clone()),
            );
            continue;
        }
        for finding in scan_for_credentials(&Json::Object(user.clone())) {
            diagnostics.push(
                Diagnostic::warning(
                    "Credentials In Chart Values",
                    format!(
                        "values[{index}] at {}: {} Helm stores values in clear text in its release Secret, and Terraform in its state.",
                        finding.path, finding.detail
                    ),
                )
                .at(path.clone()),
            );
        }
        coalesce(&mut merged, user);
    }
    (!failed).then_some(Json::Object(merged))
}

/// Helm's coalescing of values files: mappings merge, anything else replaces.
fn coalesce(base: &mut Map<String, Json>, overlay: Map<String, Json>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Json::Object(base_child)), Json::Object(overlay_child)) => {
                coalesce(base_child, overlay_child)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
