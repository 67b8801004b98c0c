//! The release's side of the drain (`crate::drain`): its attributes become a [`DrainTarget`]
//! and [`DrainSettings`], its destroy / update run through the teardown, and the drain's typed
//! errors and warnings become diagnostics here — at the resource's edge.

use std::future::Future;
use std::time::Duration;

use tfplugin::duration::parse_go_duration;
use tfplugin::{AttributePath, Context, Diagnostic, Diagnostics, OpResult};
use tokio::time::Instant;

use super::model::ReleaseModel;
use crate::ProviderConfig;
use crate::drain::{
    DEFAULT_DRAIN_TIMEOUT, DrainError, DrainMessage, DrainReport, DrainSettings, DrainTarget,
    GitlabAccess, GitlabAccessError, HostMismatch, InvalidOnDrainTimeout, OnDrainTimeout, Teardown,
    TeardownError,
};

/// The `[runners.kubernetes] namespace` of a rendered runner `config.toml`, when it is a plain
/// value (not a template).
pub fn job_namespace_from_config(config_toml: &str) -> Option<String> {
    let document: toml_edit::DocumentMut = config_toml.parse().ok()?;
    let namespace = document
        .get("runners")?
        .as_array_of_tables()?
        .get(0)?
        .get("kubernetes")?
        .get("namespace")?
        .as_str()?;
    (!namespace.is_empty() && !namespace.contains("{{")).then(|| namespace.to_owned())
}

/// What the drain works on, from the release's state.
pub fn target_for(model: &ReleaseModel) -> DrainTarget {
    let typed_namespace = model
        .runner
        .first()
        .and_then(|runner| runner.kubernetes.first())
        .and_then(|kubernetes| kubernetes.namespace.clone());
    let job_namespace = model
        .runner_config
        .known()
        .and_then(|toml| job_namespace_from_config(toml))
        .or(typed_namespace)
        .filter(|namespace| !namespace.contains("{{"));
    DrainTarget {
        release: model.name.clone(),
        namespace: model.namespace.clone(),
        job_namespace,
        token_secret_name: model.token_secret_name.clone(),
        runner_name: model.runner_name.known().cloned(),
    }
}

/// The drain attributes; an unreadable value is an error at its attribute.
pub fn settings_for(model: &ReleaseModel) -> Result<DrainSettings, Diagnostic> {
    let drain_timeout = match model.drain_timeout.as_deref() {
        Some(text) => parse_go_duration(text).map_err(|error| {
            Diagnostic::error(
                "Invalid Drain Timeout",
                format!("drain_timeout must be a duration like \"30m\": {error}"),
            )
            .at(AttributePath::new("drain_timeout"))
        })?,
        None => DEFAULT_DRAIN_TIMEOUT,
    };
    let on_drain_timeout = match model.on_drain_timeout.as_deref() {
        Some(text) => text.parse().map_err(|error: InvalidOnDrainTimeout| {
            Diagnostic::error("Invalid On Drain Timeout", error.to_string())
                .at(AttributePath::new("on_drain_timeout"))
        })?,
        None => OnDrainTimeout::Fail,
    };
    Ok(DrainSettings {
        runner_id: model.runner_id.and_then(|id| u64::try_from(id).ok()),
        drain_timeout,
        on_drain_timeout,
        delete_runner_on_destroy: model.delete_runner_on_destroy.unwrap_or(false),
        provider_owns_runner: false,
    })
}

async fn teardown_for(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    timeout: Duration,
) -> Result<Teardown, Diagnostics> {
    let kube = crate::kube::client_for(config)
        .await
        .map_err(|error| Diagnostics::from(error.diagnostic()))?;
    // The runner's own GitLab (or a base_url on its host): checked before anything is sent.
    let gitlab = GitlabAccess::for_release(config.gitlab.as_ref(), model.gitlab_url.as_deref())
        .map_err(|error| Diagnostics::from(access_diagnostic(&error, &target_for(model).id())))?;
    Ok(Teardown {
        kube,
        gitlab,
        target: target_for(model),
        settings: settings_for(model).map_err(Diagnostics::from)?,
        cancel: ctx.cancellation().clone(),
        deadline: Instant::now() + timeout,
    })
}

/// The drain's warning as Terraform shows it.
pub fn warning_diagnostic(warning: DrainMessage) -> Diagnostic {
    Diagnostic::warning(warning.summary, warning.detail)
}

/// The drain's error as Terraform shows it.
pub fn error_diagnostic(error: &DrainError) -> Diagnostic {
    let message = error.message();
    Diagnostic::error(message.summary, message.detail)
}

/// A GitLab base URL on another host than the release's `gitlab_url`, at that attribute.
pub fn host_mismatch_diagnostic(mismatch: &HostMismatch, release: &str) -> Diagnostic {
    let message = mismatch.message(release);
    Diagnostic::error(message.summary, message.detail).at(AttributePath::new("gitlab_url"))
}

/// GitLab settings the drain cannot use, as Terraform shows them.
pub fn access_diagnostic(error: &GitlabAccessError, release: &str) -> Diagnostic {
    match error {
        GitlabAccessError::HostMismatch(mismatch) => host_mismatch_diagnostic(mismatch, release),
        GitlabAccessError::Client(_) => {
            let message = error.message(release);
            Diagnostic::error(message.summary, message.detail)
        }
    }
}

fn report_into(report: DrainReport, diagnostics: &mut Diagnostics) {
    diagnostics.extend(report.warnings.into_iter().map(warning_diagnostic));
}

/// Destroy: drain, then `uninstall` (the resource's plain `helm uninstall` step), then confirm
/// and settle the runner in GitLab. Warnings land in `diagnostics`.
pub async fn destroy<F, Fut>(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    timeout: Duration,
    diagnostics: &mut Diagnostics,
    uninstall: F,
) -> OpResult
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = OpResult>,
{
    let teardown = teardown_for(ctx, config, model, timeout).await?;
    let report = teardown.run(uninstall).await.map_err(|error| match error {
        // The uninstall's own diagnostics (helm's advice, from `helm_diagnostic`).
        TeardownError::Uninstall { source, .. } => source,
        TeardownError::Drain(error) => Diagnostics::from(error_diagnostic(&error)),
    })?;
    report_into(report, diagnostics);
    Ok(())
}

/// Update with `drain_on_update = true`: pause and drain the runner of `prior`, run `upgrade`,
/// then resume the runner (also when the upgrade failed, was cancelled or ran out of time: the
/// resume then gets its own short grace period). Without it, just `upgrade`.
///
/// `left_paused` comes in as the runner an earlier, interrupted upgrade paused and could not
/// resume (from private state); it is resumed here — after this upgrade when it drains, else
/// first. It goes out as the runner still left paused (to remember for the next apply).
#[allow(clippy::too_many_arguments)]
pub async fn around_upgrade<T, E, Fut>(
    ctx: &Context,
    config: &ProviderConfig,
    prior: &ReleaseModel,
    planned: &ReleaseModel,
    timeout: Duration,
    diagnostics: &mut Diagnostics,
    left_paused: &mut Option<u64>,
    upgrade: Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: From<Diagnostics>,
{
    if planned.drain_on_update != Some(true) {
        // A failed resume is reported (and remembered); it does not stop the upgrade.
        let _ = resume_left_paused(ctx, config, prior, timeout, diagnostics, left_paused).await;
        return upgrade.await;
    }
    let mut teardown = teardown_for(ctx, config, prior, timeout).await?;
    teardown.settings.drain_timeout = settings_for(planned)
        .map_err(Diagnostics::from)?
        .drain_timeout;
    let mut drained = match teardown.drain_for_update_tracked().await {
        Ok(drained) => drained,
        Err(failure) => {
            // The drain resumed what it paused, or says what it could not resume.
            *left_paused = failure.left_paused.or(*left_paused);
            return Err(Diagnostics::from(error_diagnostic(&failure.error)).into());
        }
    };
    if drained.was_paused == Some(true) && drained.report.runner_id == *left_paused {
        // Paused, but by us (an earlier interrupted upgrade): resume it afterwards.
        drained.was_paused = Some(false);
    } else if let Some(other) = left_paused.filter(|id| drained.report.runner_id != Some(*id)) {
        // Another runner (the token changed since): resume it on its own.
        *left_paused = Some(other);
        resume_with(&teardown, diagnostics, left_paused).await;
    }
    let ours = drained.paused_by_us();
    let outcome = upgrade.await;
    match teardown.resume_after_update(drained).await {
        Ok(report) => {
            if left_paused.is_some() && *left_paused == ours {
                *left_paused = None;
            }
            report_into(report, diagnostics);
        }
        Err(error) => {
            diagnostics.push(error_diagnostic(&error));
            diagnostics.push(left_paused_warning(ours, &prior.namespace, &prior.name));
            *left_paused = ours.or(*left_paused);
        }
    }
    outcome
}

/// Resumes the runner an earlier, interrupted `drain_on_update` upgrade left paused (when
/// `left_paused` names one); `left_paused` becomes `None` once resumed (or when it can no longer
/// be resumed here: no GitLab access), else stays for the next apply.
pub async fn resume_left_paused(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    timeout: Duration,
    diagnostics: &mut Diagnostics,
    left_paused: &mut Option<u64>,
) -> OpResult {
    if left_paused.is_none() {
        return Ok(());
    }
    let teardown = teardown_for(ctx, config, model, timeout).await?;
    resume_with(&teardown, diagnostics, left_paused).await;
    if left_paused.is_some() {
        // The error is in `diagnostics` already.
        return Err(Diagnostics::new());
    }
    Ok(())
}

async fn resume_with(
    teardown: &Teardown,
    diagnostics: &mut Diagnostics,
    left_paused: &mut Option<u64>,
) {
    let Some(runner_id) = *left_paused else {
        return;
    };
    if teardown.gitlab.is_none() {
        diagnostics.push(Diagnostic::warning(
            "Runner Left Paused",
            format!(
                "GitLab runner {runner_id} of release {} was paused by an interrupted drain_on_update upgrade, and no GitLab access is configured now to resume it. Resume it in GitLab (or configure the provider's gitlab block before the next apply).",
                teardown.target.id()
            ),
        ));
        *left_paused = None;
        return;
    }
    match teardown.resume_runner(runner_id).await {
        Ok(()) => {
            tracing::info!(
                runner_id,
                "drain: resumed the runner an interrupted upgrade left paused"
            );
            *left_paused = None;
        }
        Err(error) => {
            diagnostics.push(error_diagnostic(&error));
            diagnostics.push(left_paused_warning(
                Some(runner_id),
                &teardown.target.namespace,
                &teardown.target.release,
            ));
        }
    }
}

fn left_paused_warning(runner: Option<u64>, namespace: &str, name: &str) -> Diagnostic {
    let which = runner.map_or_else(
        || "The runner".to_owned(),
        |id| format!("GitLab runner {id}"),
    );
    Diagnostic::warning(
        "Runner Left Paused",
        format!(
            "{which} of release {namespace}/{name} stays paused: drain_on_update paused it and resuming it failed. This is recorded in state (runner_left_paused); the next apply resumes it."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drains_warnings_become_warnings_at_the_edge_with_their_text() {
        let report = DrainReport {
            warnings: crate::drain::plan_warnings(false, "ci/runner"),
            ..DrainReport::default()
        };
        let mut diagnostics = Diagnostics::new();
        report_into(report, &mut diagnostics);
        let shown: Vec<_> = diagnostics.iter().collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(shown[0].severity, tfplugin::Severity::Warning);
        assert_eq!(shown[0].summary, "Draining Without GitLab Access");
        assert!(shown[0].detail.contains("ci/runner"), "{}", shown[0].detail);
    }

    #[test]
    fn job_namespace_is_read_from_a_plain_config_and_not_from_templates() {
        let config = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    namespace = \"ci-jobs\"\n";
        assert_eq!(
            job_namespace_from_config(config).as_deref(),
            Some("ci-jobs")
        );
        let templated =
            "[[runners]]\n  [runners.kubernetes]\n    namespace = \"{{.Release.Namespace}}\"\n";
        assert_eq!(job_namespace_from_config(templated), None);
        assert_eq!(job_namespace_from_config("[[runners]]\n"), None);
        assert_eq!(job_namespace_from_config("not toml ["), None);
    }

    #[test]
    fn settings_parse_durations_and_reject_bad_values_at_their_attribute() {
        let model = ReleaseModel {
            drain_timeout: Some("1h30m".into()),
            on_drain_timeout: Some("force".into()),
            runner_id: Some(42),
            delete_runner_on_destroy: Some(true),
            ..ReleaseModel::default()
        };
        let settings = settings_for(&model).unwrap();
        assert_eq!(settings.drain_timeout, Duration::from_secs(5400));
        assert_eq!(settings.on_drain_timeout, OnDrainTimeout::Force);
        assert_eq!(settings.runner_id, Some(42));
        assert!(settings.deletes_runner());

        let bad = ReleaseModel {
            on_drain_timeout: Some("later".into()),
            ..ReleaseModel::default()
        };
        let error = settings_for(&bad).unwrap_err();
        assert_eq!(error.attribute.unwrap().to_string(), "on_drain_timeout");
        let bad = ReleaseModel {
            drain_timeout: Some("soon".into()),
            ..ReleaseModel::default()
        };
        assert_eq!(
            settings_for(&bad).unwrap_err().summary,
            "Invalid Drain Timeout"
        );
    }
}
