//! Validation and planning.
//!
//! Validation turns every problem of the configuration into a diagnostic at its attribute.
//! Planning computes what the configuration wants (`values_digest`, `runner_config`,
//! `runner_name`), plans `drifted_objects = []` and `status = "deployed"` (so drift or a failed
//! revision shows as an update that repairs it), and decides whether the update runs helm: only
//! then are `revision`, `app_version`, `manifest_objects` (and an unpinned `chart_version`)
//! unknown. `runner_left_paused` (a runner an interrupted `drain_on_update` left paused) is
//! planned `false`, so such a release shows as an update that resumes the runner.

use gitlab_runner_chart::validate_runner_config;
use tfplugin::{
    AttributePath, Diagnostic, Diagnostics, Document, OpResult, PlanRequest, PlanResponse, Value,
};

use super::desired::{default_runner_name, desired, raw_toml_finding};
use super::model::ReleaseModel;
use super::state::{DECIDED_BY_HELM, Results};
use crate::resources::placement::planned_id;

/// The status a successful apply leaves.
pub const DEPLOYED: &str = "deployed";

fn attr(name: &str) -> AttributePath {
    AttributePath::new(name)
}

/// Checks the configuration (validate time: values may be unknown).
pub fn validate(config: &Document, diagnostics: &mut Diagnostics) {
    if config.value().is_wholly_known() {
        match config.get::<ReleaseModel>() {
            Ok(model) => {
                desired(&model, diagnostics);
            }
            Err(errors) => diagnostics.extend(errors),
        }
        return;
    }
    // Partly unknown: check what stands on its own.
    let runner = config.attr(&attr("runner")).cloned().unwrap_or_default();
    let runner_set =
        !runner.is_null() && runner.as_elements().is_none_or(|blocks| !blocks.is_empty());
    let toml = config
        .attr(&attr("runner_config_toml"))
        .cloned()
        .unwrap_or_default();
    if runner_set && !toml.is_null() {
        diagnostics.push(
            Diagnostic::error(
                "Conflicting Runner Configuration",
                "Set either the runner block (typed settings) or runner_config_toml (raw TOML), not both.",
            )
            .at(attr("runner_config_toml")),
        );
    }
    if let Some(text) = toml.as_str() {
        for finding in validate_runner_config(text) {
            diagnostics.push(raw_toml_finding(&finding));
        }
    }
}

/// Inputs that choose the chart helm installs: a change runs helm although no chart value
/// changes. (Every input that becomes a chart value runs helm through `values_digest`.)
pub const CHART_INPUTS: &[&str] = &[
    "chart",
    "chart_version",
    "repository",
    "repository_username",
];

/// Inputs that change only how helm or the provider runs (credentials, TLS, waiting, the drain,
/// drift policy): a change alone runs no helm. Every other input must reach the chart values —
/// `desired_tests.rs` proves it for each input of the schema (the only reader of this list).
#[cfg(test)]
pub const RUN_INPUTS: &[&str] = &[
    "create_namespace",
    "repository_password",
    "repository_password_wo",
    "repository_ca_certificate",
    "repository_insecure_skip_tls_verify",
    "repository_plain_http",
    "timeout",
    "wait",
    "verify_runner",
    "atomic",
    "recover_pending",
    "runner_id",
    "drain_timeout",
    "on_drain_timeout",
    "delete_runner_on_destroy",
    "drain_on_update",
    "drift_ignore_field_managers",
];

/// Whether applying `plan` over `prior` needs a helm upgrade (rather than only new settings such
/// as `timeout` or the drain attributes): drift or a failed revision to repair, other chart
/// values (`values_digest`) or another chart ([`CHART_INPUTS`]).
pub fn needs_helm(prior: &Value, plan: &Value) -> bool {
    let differs = |name: &str| {
        prior.attr(name) != plan.attr(name) || plan.attr(name).is_some_and(Value::is_unknown)
    };
    let drifted = prior
        .attr("drifted_objects")
        .and_then(Value::as_elements)
        .is_some_and(|lines| !lines.is_empty());
    let deployed = prior.attr("status").and_then(Value::as_str) == Some(DEPLOYED);
    drifted
        || !deployed
        || std::iter::once(&"values_digest")
            .chain(CHART_INPUTS)
            .any(|name| differs(name))
}

/// `runner_left_paused` after the next apply: a runner left paused is resumed (`false`); any
/// other value (`false`, or null in state written before the attribute existed) stays.
fn planned_left_paused(prior: &Value) -> Value {
    let left_paused = prior
        .attr("runner_left_paused")
        .cloned()
        .unwrap_or_default();
    if left_paused.as_bool() == Some(true) {
        Value::Bool(false)
    } else {
        left_paused
    }
}

/// The runner as GitLab sees it: read by refresh, never decided by an apply (issue 15).
const GITLAB_RESULTS: [&str; 3] = ["runner_status", "runner_paused", "online_managers"];

pub fn modify_plan(request: &PlanRequest, response: &mut PlanResponse) -> OpResult {
    let creating = request.is_create();
    let config = request.config.value();
    let plan = &mut response.plan;
    let mut planned = Results {
        drifted_objects: Some(Vec::new()),
        status: Some(DEPLOYED.to_owned()),
        ..Results::default()
    };
    if let Some(id) = planned_id(plan) {
        planned.id = Some(id.to_string());
        if config.attr("runner_name").is_none_or(Value::is_null) {
            planned.runner_name = Some(default_runner_name(&id.namespace, &id.name));
        }
    }
    planned.write(plan)?;

    if config.is_wholly_known()
        && let Ok(mut model) = request.config.get::<ReleaseModel>()
    {
        if let Some(runner_name) = plan.attr(&attr("runner_name")).and_then(Value::as_str) {
            model.runner_name = runner_name.to_owned().into();
        }
        // Problems were reported by validate; here only the outcome matters.
        let mut scratch = Diagnostics::new();
        if let Some(wanted) = desired(&model, &mut scratch) {
            Results {
                values_digest: Some(wanted.values_digest),
                runner_config: Some(wanted.runner_config),
                ..Results::default()
            }
            .write(plan)?;
        }
    }

    if creating {
        Results {
            runner_left_paused: Some(false),
            ..Results::default()
        }
        .write(plan)?;
        // GitLab's view of the runner is read by the next refresh.
        for name in GITLAB_RESULTS {
            plan.set_value(&attr(name), Value::Null)?;
        }
        return Ok(());
    }
    let prior = request.prior_state.value();
    // A runner an interrupted upgrade left paused shows as a change: the apply resumes it.
    // (Null in state written before the attribute existed stays null: no change.)
    plan.set_value(&attr("runner_left_paused"), planned_left_paused(prior))?;
    // GitLab's view stays what refresh read; a runner paused in GitLab by someone else shows
    // as a change: the apply unpauses it.
    for name in GITLAB_RESULTS {
        let known = prior.attr(name).cloned().unwrap_or_default();
        plan.set_value(&attr(name), known)?;
    }
    if prior.attr("runner_paused").and_then(Value::as_bool) == Some(true) {
        plan.set_value(&attr("runner_paused"), Value::Bool(false))?;
    }
    let chart_version_unpinned = config.attr("chart_version").is_none_or(Value::is_null);
    if chart_version_unpinned && let Some(recorded) = prior.attr("chart_version") {
        plan.set_value(&attr("chart_version"), recorded.clone())?;
    }
    if needs_helm(prior, plan.value()) {
        for name in DECIDED_BY_HELM {
            plan.set_value(&attr(name), Value::Unknown)?;
        }
        if chart_version_unpinned {
            plan.set_value(&attr("chart_version"), Value::Unknown)?;
        }
    } else {
        for name in
            DECIDED_BY_HELM
                .iter()
                .chain(&["chart_version", "values_digest", "runner_config"])
        {
            if let Some(value) = prior.attr(name)
                && plan.attr(&attr(name)).is_some_and(Value::is_unknown)
            {
                plan.set_value(&attr(name), value.clone())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prior(left_paused: Value) -> Value {
        Value::Object([("runner_left_paused".to_owned(), left_paused)].into())
    }

    #[test]
    fn a_runner_left_paused_is_planned_resumed_and_nothing_else_changes() {
        assert_eq!(
            planned_left_paused(&prior(Value::Bool(true))),
            Value::Bool(false)
        );
        assert_eq!(
            planned_left_paused(&prior(Value::Bool(false))),
            Value::Bool(false)
        );
        // State from before the attribute existed: no planned change.
        assert_eq!(planned_left_paused(&prior(Value::Null)), Value::Null);
    }
}
