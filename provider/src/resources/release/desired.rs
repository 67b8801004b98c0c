//! What a configuration asks for: the chart values helm gets, their digest, the runner
//! config.toml and the chart source — with every problem as a diagnostic at its attribute.
//! Pure: used at validate, plan and apply time alike.

use gitlab_runner_chart::{
    ConfigPath, Finding, PathSegment, Severity, TOKEN_DIGEST_ANNOTATION, render,
    scan_for_credentials, validate_runner_config,
};
use helm_driver::ChartSource;
use serde_json::{Map, Value as Json};
use tfplugin::{AttributePath, Block, Diagnostic, Diagnostics};

use super::digest::values_digest;
use super::mapping::{self, ChartAttribute, chart_values};
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
    check_reserved_annotation(model, diagnostics);
    let chart_values = chart_values(
        model,
        runner_config.clone().unwrap_or_default(),
        runner_name.clone(),
    );
    let typed = match chart_values.to_values() {
        Ok(tree) => Some(tree),
        Err(findings) => {
            for finding in findings {
                diagnostics.push(chart_finding(&finding));
            }
            None
        }
    };
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

/// Attribute of a chart values path that a typed attribute sets (from
/// [`mapping::CHART_KEYS`], beside the mapping itself).
fn chart_attribute(path: &ConfigPath) -> AttributePath {
    let text = path.to_string();
    let under = |prefix: &str| {
        text == prefix
            || text.starts_with(&format!("{prefix}."))
            || text.starts_with(&format!("{prefix}["))
    };
    match mapping::CHART_KEYS.iter().find(|entry| under(entry.key)) {
        Some(entry) => match entry.source {
            ChartAttribute::Attribute(name) => AttributePath::new(name),
            ChartAttribute::Block(name) => AttributePath::new(name).index(0),
        },
        None => AttributePath::root(),
    }
}

fn chart_finding(finding: &Finding) -> Diagnostic {
    let path = chart_attribute(&finding.path);
    let d = diagnostic_of(finding, finding.detail.clone());
    if path.is_root() { d } else { d.at(path) }
}

/// `token_digest` and `secret_digests` become pod annotations ([`TOKEN_DIGEST_ANNOTATION`],
/// `gitlabrunner.io/<name>-digest`): setting one of them in `pod_annotations` as well, or the
/// token's through both attributes, is an error (two attributes: not one validator's job).
fn check_reserved_annotation(model: &ReleaseModel, diagnostics: &mut Diagnostics) {
    let token_twice = model.token_digest.is_some()
        && model
            .secret_digests
            .as_ref()
            .is_some_and(|digests| digests.contains_key("token"));
    if token_twice {
        diagnostics.push(
            Diagnostic::error(
                "Token Digest Set Twice",
                "secret_digests[\"token\"] and token_digest both set the pod annotation gitlabrunner.io/token-digest; keep one of them.",
            )
            .at(AttributePath::new("secret_digests").key("token")),
        );
    }
    let Some(annotations) = model.pod_annotations.as_ref() else {
        return;
    };
    let reserved = model
        .token_digest
        .iter()
        .map(|_| TOKEN_DIGEST_ANNOTATION.to_owned())
        .chain(
            model
                .secret_digests
                .iter()
                .flatten()
                .map(|(name, _)| mapping::secret_digest_annotation(name)),
        );
    for annotation in reserved.filter(|a| annotations.contains_key(a)) {
        diagnostics.push(
            Diagnostic::error(
                "Reserved Pod Annotation",
                format!("The pod annotation {annotation} is set from token_digest or secret_digests; remove it from pod_annotations."),
            )
            .at(AttributePath::new("pod_annotations")),
        );
    }
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
pub(super) fn coalesce(base: &mut Map<String, Json>, overlay: Map<String, Json>) {
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
