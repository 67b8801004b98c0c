//! Create, update and read.
//!
//! Apply runs `helm upgrade --install`. A failed install or upgrade whose revision helm recorded
//! is written to state with its status (`failed`) next to the error, so Terraform taints it and
//! the next apply replaces it — never an orphan release that makes the next install fail with
//! "cannot re-use a name". A release stuck in `pending-*` is explained, and rolled back first
//! when `recover_pending = true`.
//!
//! Losing track is avoided on both sides: the read-back after helm retries within the
//! operation's time limit (and a short grace after cancellation), and a create whose read-back
//! still fails is recorded with its `id` and status `unknown` (tainted, so the next plan repairs
//! it). A release someone else installed under the same name meanwhile ("cannot re-use a name")
//! is never recorded as ours.
//!
//! Read spawns no helm process (see [`super::live`]).

use std::time::Duration;

use helm_driver::{
    HelmFailure, ReleaseHistory, ReleaseRecord, Rollback, Uninstall, UpgradeInstall,
};
use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, CreateRequest, CreateResponse, Diagnostic, Diagnostics, Document,
    OpResult, PrivateState, ReadRequest, ReadResponse, UpdateRequest, UpdateResponse, Value,
};

use super::desired::{Desired, desired};
use super::helm_ops::{Helm, helm_diagnostic, run_options};
use super::model::ReleaseModel;
use super::schema::DEFAULT_HELM_TIMEOUT_SECONDS;
use super::source::{chart_transport, credentials};
use super::state::{Results, STATUS_UNKNOWN};
use super::{
    DEFAULT_CREATE, DEFAULT_READ, DEFAULT_UPDATE, kube_client, limit, live, record, rollout, verify,
};
use crate::ProviderConfig;
use crate::kube::Budget;

/// Private-state entry: the id of the GitLab runner a `drain_on_update` paused and could not
/// resume (the operation was cancelled, ran out of time, or GitLab did not answer).
pub const LEFT_PAUSED: &str = "drain_left_paused_runner";

fn attr(name: &str) -> AttributePath {
    AttributePath::new(name)
}

fn errors_only(diagnostics: Diagnostics) -> Diagnostics {
    let mut out = Diagnostics::new();
    out.extend(diagnostics.iter().filter(|d| d.is_error()).cloned());
    out
}

/// A failed deploy: its diagnostics, and whether state was written for a release that exists
/// (a failed revision, or one installed but not read back), which must then be kept.
struct DeployFailure {
    diagnostics: Diagnostics,
    recorded: bool,
}

impl From<Diagnostics> for DeployFailure {
    fn from(diagnostics: Diagnostics) -> Self {
        DeployFailure {
            diagnostics,
            recorded: false,
        }
    }
}

impl From<Diagnostic> for DeployFailure {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics::from(diagnostic).into()
    }
}

impl From<DeployFailure> for Diagnostics {
    fn from(failure: DeployFailure) -> Self {
        failure.diagnostics
    }
}

pub async fn create(
    ctx: &Context,
    config: &ProviderConfig,
    request: CreateRequest,
    response: &mut CreateResponse,
) -> OpResult {
    let model: ReleaseModel = request.plan.get()?;
    let timeout = limit(&model, Operation::Create, DEFAULT_CREATE)?;
    let budget = Budget::new(timeout, ctx);
    response.state = request.plan.clone();
    Results {
        runner_left_paused: Some(false),
        ..Results::default()
    }
    .write(&mut response.state)?;
    let outcome = deploy(
        ctx,
        config,
        &model,
        &request.config,
        None,
        &budget,
        &mut response.state,
    )
    .await;
    match outcome {
        Ok(()) => Ok(()),
        Err(failure) => {
            if !failure.recorded {
                // Nothing of ours exists: no state, nothing to taint.
                response.state.remove();
            }
            Err(failure.diagnostics)
        }
    }
}

pub async fn update(
    ctx: &Context,
    config: &ProviderConfig,
    request: UpdateRequest,
    response: &mut UpdateResponse,
) -> OpResult {
    let left_paused: Option<u64> = request.private.get(LEFT_PAUSED)?;
    let runs_helm = request
        .plan
        .attr(&attr("revision"))
        .is_some_and(Value::is_unknown);
    let unpause_due = request
        .prior_state
        .attr(&attr("runner_paused"))
        .and_then(Value::as_bool)
        == Some(true)
        && request
            .plan
            .attr(&attr("runner_paused"))
            .and_then(Value::as_bool)
            == Some(false);
    if !runs_helm && left_paused.is_none() && !unpause_due {
        // Only settings that do not reach helm changed (timeouts, drain settings, …).
        return Ok(());
    }
    let model: ReleaseModel = request.plan.get()?;
    let timeout = limit(&model, Operation::Update, DEFAULT_UPDATE)?;
    let budget = Budget::new(timeout, ctx);
    let prior = request.prior_state.value().clone();
    let prior_model: ReleaseModel = request.prior_state.get()?;
    let mut still_paused = left_paused;
    let outcome = if runs_helm {
        let upgrade = deploy(
            ctx,
            config,
            &model,
            &request.config,
            Some(&prior),
            &budget,
            &mut response.state,
        );
        super::drain::around_upgrade(
            ctx,
            config,
            &prior_model,
            &model,
            timeout,
            &mut response.diagnostics,
            &mut still_paused,
            upgrade,
        )
        .await
    } else {
        // Only the runner an earlier, interrupted upgrade left paused needs resuming.
        super::drain::resume_left_paused(
            ctx,
            config,
            &prior_model,
            timeout,
            &mut response.diagnostics,
            &mut still_paused,
        )
        .await
        .map_err(DeployFailure::from)
    };
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(failure) => {
            if !failure.recorded {
                // Helm recorded nothing new: keep the prior state.
                response.state = request.prior_state.clone();
            }
            Err(failure.diagnostics)
        }
    };
    remember_left_paused(&mut response.state, &mut response.private, still_paused)?;
    if unpause_due && outcome.is_ok() {
        // Someone paused the runner in GitLab (refresh saw it): the apply repairs that drift.
        let client = kube_client(config).await?;
        let deadline = tokio::time::Instant::now() + budget.remaining();
        super::gitlab_state::unpause(config, &model, &client, deadline, ctx.cancellation()).await?;
        Results {
            runner_paused: Some(false),
            ..Results::default()
        }
        .write(&mut response.state)?;
    }
    outcome
}

/// Records (or clears) the runner a `drain_on_update` left paused: its id in private state (so
/// the next apply resumes it) and `runner_left_paused` (so the plan shows that an apply is due).
fn remember_left_paused(
    state: &mut Document,
    private: &mut PrivateState,
    runner: Option<u64>,
) -> Result<(), Diagnostics> {
    match runner {
        Some(id) => private.set(LEFT_PAUSED, &id)?,
        None => private.remove(LEFT_PAUSED),
    }
    // Null (state written before the attribute existed, planned null) stays null unless a runner
    // is left paused now: the result must match the plan.
    let recorded = state
        .attr(&attr("runner_left_paused"))
        .and_then(Value::as_bool);
    if !state.is_null() && (runner.is_some() || recorded.is_some()) {
        Results {
            runner_left_paused: Some(runner.is_some()),
            ..Results::default()
        }
        .write(state)?;
    }
    Ok(())
}

fn pending_diagnostic(namespace: &str, name: &str, history: &ReleaseHistory) -> Diagnostic {
    let record = &history.latest;
    let back = match history.last_deployed_revision() {
        Some(revision) => format!("roll back to revision {revision}"),
        None => "uninstall it (it was never deployed)".to_owned(),
    };
    Diagnostic::error(
        "Helm Release Operation In Progress",
        format!(
            "Release {namespace}/{name} is at revision {} with status {}: helm recorded an operation that never finished \
             (typically helm was killed mid-way), and helm refuses new operations until it is resolved. If no other helm \
             run is active, set recover_pending = true on this resource to {back} before applying, or run \
             `helm rollback {name} -n {namespace}` yourself.",
            record.version, record.status
        ),
    )
    .at(attr("recover_pending"))
}

async fn deploy(
    ctx: &Context,
    config: &ProviderConfig,
    model: &ReleaseModel,
    configuration: &Document,
    prior: Option<&Value>,
    budget: &Budget,
    state: &mut Document,
) -> Result<(), DeployFailure> {
    let creating = prior.is_none();
    // Write-only attributes are null in the plan: only the configuration carries them.
    let configured: ReleaseModel = configuration.get()?;
    let model = &ReleaseModel {
        repository_password_wo: configured.repository_password_wo,
        ..model.clone()
    };
    let mut problems = Diagnostics::new();
    let Some(wanted) = desired(model, &mut problems) else {
        return Err(errors_only(problems).into());
    };
    let (namespace, name) = (model.namespace.as_str(), model.name.as_str());
    let client = kube_client(config).await?;
    let helm = Helm::from_config(config).map_err(Diagnostics::from)?;
    let helm_timeout = Duration::from_secs(
        u64::try_from(model.timeout.unwrap_or(DEFAULT_HELM_TIMEOUT_SECONDS)).unwrap_or(300),
    );
    let credentials = credentials(model);
    let options = run_options(budget.remaining(), ctx.cancellation(), credentials.as_ref());

    let history = live::history_within(&client, namespace, name, budget).await?;
    if let Some(history) = &history {
        if history.latest.status.is_pending() {
            if model.recover_pending != Some(true) {
                return Err(pending_diagnostic(namespace, name, history).into());
            }
            recover_pending(&helm, namespace, name, history, helm_timeout, &options).await?;
        } else if creating {
            return Err(Diagnostic::error(
                "Helm Release Already Exists",
                format!(
                    "Release {namespace}/{name} already exists (revision {}, status {}) but is not in Terraform state. \
                     Import it with `terraform import <address> {namespace}/{name}` (or an import block), or choose another name.",
                    history.latest.version, history.latest.status
                ),
            )
            .into());
        }
    }

    let pinned: Option<String> = configuration.get_attr(&attr("chart_version"))?;
    let mut request = UpgradeInstall::new(name, namespace, wanted.chart.clone());
    request.version = pinned;
    request.create_namespace = model.create_namespace.unwrap_or(false);
    request.wait = model.wait.unwrap_or(true);
    request.atomic = model.atomic.unwrap_or(false);
    request.timeout = Some(helm_timeout);
    request.credentials = credentials.clone();
    request.transport = chart_transport(model);
    let settings = record::encode(configuration.value_type(), configuration.value());
    request.description = settings.as_ref().map(record::Settings::description);

    let repairing = prior
        .and_then(|p| p.attr("drifted_objects"))
        .and_then(Value::as_elements)
        .is_some_and(|lines| !lines.is_empty());
    let server_side = history
        .as_ref()
        .is_none_or(|h| h.latest.apply_method.as_deref() == Some("ssa"));
    // Take fields back from other field managers (kubectl edit / apply).
    request.force_conflicts = repairing && server_side;
    let values_json = serde_json::to_string(&wanted.values).map_err(|error| {
        Diagnostics::from(Diagnostic::error(
            "Provider Bug: Values Not Serializable",
            format!("{error}."),
        ))
    })?;
    let operation = if creating { "install" } else { "upgrade" };
    tracing::info!(
        release = name,
        namespace,
        operation,
        "running helm upgrade --install"
    );
    // While helm waits, a rollout that cannot finish stops it early with the cluster's reason.
    let watch = request.wait.then(|| client.clone());
    let rollout_started = (time::OffsetDateTime::now_utc(), tokio::time::Instant::now());
    let watched = rollout::upgrade_watched(
        &helm,
        &request,
        &values_json,
        &options,
        watch,
        ctx.cancellation(),
    )
    .await;
    let (outcome, stuck) = (watched.outcome, watched.stuck);
    let failure_diagnostic = |error: &helm_driver::HelmError| match &stuck {
        Some(stuck) => rollout::stuck_diagnostic(namespace, name, stuck),
        None => helm_diagnostic(operation, name, error),
    };

    if let Err(error) = &outcome
        && creating
        && error.failure() == Some(HelmFailure::NameInUse)
    {
        // Someone installed the release between our check and helm's: it is not ours.
        let helm_said = helm_diagnostic(operation, name, error).detail;
        return Err(name_taken_diagnostic(namespace, name, helm_said.trim_end_matches('.')).into());
    }
    let after = live::history_within(&client, namespace, name, &budget.or_grace()).await;
    if creating
        && history.is_none()
        && let Ok(Some(found)) = &after
        && found.latest.version != 1
    {
        // Nothing existed at our check, yet helm found a release (and upgraded it): someone
        // else installed it in between. Our install would have been revision 1.
        let cause = format!(
            "helm found it and upgraded it instead of installing: revision {} is {}",
            found.latest.version, found.latest.status
        );
        return Err(name_taken_diagnostic(namespace, name, &cause).into());
    }
    if let (Some(settings), Ok(Some(after))) = (&settings, &after) {
        settings
            .store(&client, namespace, name, &after.latest, &budget.or_grace())
            .await;
    }
    match (outcome, after) {
        (Ok(_), Ok(Some(after))) => {
            write_state(state, &after.latest, &wanted, true)?;
            // helm keeps what other field managers added: take it away (issue 12).
            let ignored = model.drift_ignore_field_managers.as_deref();
            live::remove_additions(
                &client,
                repairing,
                namespace,
                name,
                &after.latest.manifest,
                ignored,
                &budget.or_grace(),
            )
            .await
            .map_err(DeployFailure::from)?;
            // A green rollout is not yet a working runner: ask GitLab (issue 15).
            if verify::wanted(config, model) {
                let deadline = (rollout_started.1 + helm_timeout)
                    .min(tokio::time::Instant::now() + budget.remaining());
                verify::verify(config, model, &client, rollout_started.0, deadline, ctx.cancellation())
                    .await
                    .map_err(|diagnostic| DeployFailure {
                        diagnostics: diagnostic.into(),
                        recorded: true,
                    })?;
            }
            Ok(())
        }
        (Ok(_), Ok(None)) => Err(Diagnostic::error(
            "Helm Release Missing After Install",
            format!("helm reported success, but no release record for {namespace}/{name} was found afterwards. Check that nothing else removes helm's release Secrets."),
        )
        .into()),
        (outcome, Err(read_error)) => {
            // Helm ran (and may have recorded a revision) but the release cannot be read back.
            let mut diagnostics = Diagnostics::new();
            if let Err(error) = &outcome {
                diagnostics.push(failure_diagnostic(error));
            }
            diagnostics.push(read_error);
            if !creating {
                // The prior state keeps the release tracked; the next refresh reads it.
                return Err(diagnostics.into());
            }
            Results::unread(namespace, name).write(state)?;
            diagnostics.push(Diagnostic::warning(
                "Release Recorded With Unknown Status",
                format!(
                    "helm {} release {namespace}/{name}, but reading it back failed, so it is kept in state with status \"{STATUS_UNKNOWN}\" (Terraform marks it tainted). The next plan reads it again and replaces it, instead of failing with \"already exists\".",
                    if outcome.is_ok() { "installed" } else { "ran for" }
                ),
            ));
            Err(DeployFailure {
                diagnostics,
                recorded: true,
            })
        }
        (Err(error), Ok(after)) => {
            let mut diagnostics = Diagnostics::from(failure_diagnostic(&error));
            let recorded_new = after.as_ref().is_some_and(|after| {
                history
                    .as_ref()
                    .is_none_or(|before| after.latest.version != before.latest.version)
            });
            let Some(after) = after.filter(|_| recorded_new) else {
                return Err(diagnostics.into());
            };
            write_state(state, &after.latest, &wanted, false)?;
            diagnostics.push(Diagnostic::warning(
                "Failed Release Recorded In State",
                format!(
                    "Helm recorded revision {} of {namespace}/{name} with status {}. It is kept in state so the next apply repairs it (an install is replaced, an upgrade retried) instead of failing with \"cannot re-use a name\".",
                    after.latest.version, after.latest.status
                ),
            ));
            Err(DeployFailure {
                diagnostics,
                recorded: true,
            })
        }
    }
}

/// The error for a create that lost the name to someone else's install (`cause`: what helm did).
fn name_taken_diagnostic(namespace: &str, name: &str, cause: &str) -> Diagnostic {
    Diagnostic::error(
        "Helm Release Already Exists",
        format!(
            "Release {namespace}/{name} was installed by someone else while this apply was creating it ({cause}). \
             Nothing was recorded in Terraform state, so no later apply replaces or uninstalls it. To manage it here, \
             import it with `terraform import <address> {namespace}/{name}` (or an import block); otherwise choose another name."
        ),
    )
}

async fn recover_pending(
    helm: &Helm,
    namespace: &str,
    name: &str,
    history: &ReleaseHistory,
    helm_timeout: Duration,
    options: &helm_driver::RunOptions,
) -> OpResult {
    tracing::info!(release = name, namespace, status = %history.latest.status, "recovering a pending release");
    let result = match history.last_deployed_revision() {
        Some(revision) => {
            let request = Rollback {
                release: name.to_owned(),
                namespace: namespace.to_owned(),
                revision: Some(revision),
                wait: false,
                timeout: Some(helm_timeout),
            };
            helm.rollback(&request, options)
                .await
                .map_err(|e| helm_diagnostic("rollback", name, &e))
        }
        None => {
            let request = Uninstall {
                release: name.to_owned(),
                namespace: namespace.to_owned(),
                wait: false,
                timeout: Some(helm_timeout),
                cascade: None,
            };
            helm.uninstall(&request, options)
                .await
                .map_err(|e| helm_diagnostic("uninstall", name, &e))
        }
    };
    result.map(|_| ()).map_err(Diagnostics::from)
}

/// Writes what helm recorded, and what the configuration wants, into the state's results.
fn write_state(
    state: &mut Document,
    record: &ReleaseRecord,
    wanted: &Desired,
    succeeded: bool,
) -> Result<(), Diagnostics> {
    let mut results = Results::of_record(record);
    results.id = Some(format!("{}/{}", record.namespace, record.name));
    results.runner_name = Some(wanted.runner_name.clone());
    results.runner_config = Some(wanted.runner_config.clone());
    if succeeded {
        results.values_digest = Some(wanted.values_digest.clone());
    }
    results.drifted_objects = Some(Vec::new());
    results.write(state)
}

/// The refresh: within the `read` time limit and cancelled with the operation, like the other
/// operations (`Budget`).
pub async fn read(
    ctx: &Context,
    config: &ProviderConfig,
    request: ReadRequest,
    response: &mut ReadResponse,
) -> OpResult {
    let model: ReleaseModel = request.state.get()?;
    let budget = Budget::new(limit(&model, Operation::Read, DEFAULT_READ)?, ctx);
    let client = kube_client(config).await?;
    let policy = live::drift_policy(model.drift_ignore_field_managers.as_deref());
    let reads = crate::kube::reads_for(config);
    // The kinds the last refresh found: their listings start now, beside the record's.
    if let Some(objects) = model.manifest_objects.known() {
        reads.prefetch(&client, live::kinds_of(objects, &model.namespace));
    }
    let Some(inspection) = live::inspect(
        &reads,
        &client,
        &model.namespace,
        &model.name,
        &policy,
        &budget,
    )
    .await
    .map_err(Diagnostics::from)?
    else {
        tracing::info!(
            release = model.name,
            namespace = model.namespace,
            "release is gone; removing it from state"
        );
        response.state.remove();
        return Ok(());
    };
    let record = &inspection.history.latest;
    let state = &mut response.state;
    if model.gitlab_url.is_none() {
        // Just imported: restore the settings this provider recorded when it installed it, or
        // read a release installed elsewhere back from its values.
        let recorded = record::load(
            &client,
            &model.namespace,
            &model.name,
            state.value_type(),
            record.description.as_deref(),
            &budget,
        )
        .await;
        if let Some(recorded) = recorded {
            let mut value = state.value().clone();
            record::restore_into(&mut value, &recorded);
            state.set_value(&AttributePath::root(), value)?;
        } else {
            super::adopt::adopt(state, record, &mut response.diagnostics)?;
        }
    }
    let mut results = Results::of_inspection(&inspection);
    results.drifted_objects = Some(live::drift_lines(&inspection.drift.drifts));
    let runners = record.config.get("runners");
    if state.attr(&attr("runner_name")).is_none_or(Value::is_null)
        && let Some(runner_name) = runners
            .and_then(|r| r.get("name"))
            .and_then(serde_json::Value::as_str)
    {
        results.runner_name = Some(runner_name.to_owned());
    }
    if state
        .attr(&attr("runner_config"))
        .is_none_or(Value::is_null)
        && let Some(toml) = runners
            .and_then(|r| r.get("config"))
            .and_then(serde_json::Value::as_str)
    {
        results.runner_config = Some(toml.to_owned());
    }
    let left_paused: Option<u64> = request.private.get(LEFT_PAUSED)?;
    if let Some(runner_id) = left_paused {
        response.diagnostics.push(Diagnostic::warning(
            "Runner Left Paused By An Interrupted Upgrade",
            format!(
                "GitLab runner {runner_id} of release {}/{} was paused by drain_on_update and the upgrade was interrupted before it could resume it. The next apply resumes it.",
                model.namespace, model.name
            ),
        ));
    }
    if left_paused.is_some() || model.runner_left_paused.known() == Some(&true) {
        results.runner_left_paused = Some(left_paused.is_some());
    }
    // The runner as GitLab sees it (issue 15); without GitLab access nothing is requested.
    let deadline = tokio::time::Instant::now() + budget.remaining().min(Duration::from_secs(20));
    match super::gitlab_state::observe(config, &model, &client, deadline, ctx.cancellation()).await {
        Ok(None) => {}
        Ok(Some(super::gitlab_state::Observed::Found {
            status,
            paused,
            online_managers,
        })) => {
            results.runner_status = Some(status);
            results.runner_paused = Some(paused);
            results.online_managers = Some(online_managers);
        }
        Ok(Some(super::gitlab_state::Observed::Deleted { runner })) => {
            results.runner_status = Some("deleted".to_owned());
            response.diagnostics.push(super::gitlab_state::deleted_diagnostic(
                &model.namespace,
                &model.name,
                &runner,
            ));
        }
        Err(error) => response.diagnostics.push(Diagnostic::warning(
            "Cannot Read Runner From GitLab",
            format!(
                "The state of the runner of release {}/{} in GitLab could not be read: {error}. runner_status, runner_paused and online_managers keep their previous values.",
                model.namespace, model.name
            ),
        )),
    }
    results.write(state)?;
    if record.status.is_pending() {
        response.diagnostics.push(Diagnostic::warning(
            "Helm Release Operation In Progress",
            format!(
                "Release {}/{} has status {}: an operation is running or was interrupted. If nothing is running, set recover_pending = true and apply to resolve it.",
                model.namespace, model.name, record.status
            ),
        ));
    }
    tracing::debug!(
        release = model.name,
        requests = inspection.api_requests,
        drifted = inspection.drift.drifts.len(),
        "read the release natively"
    );
    Ok(())
}
