//! The teardown orchestrator: pause → drain → stop the manager → (uninstall) → confirm →
//! runner in GitLab. Each step is idempotent, so a destroy that was interrupted or timed out
//! resumes where it stopped when run again.

use std::future::Future;
use std::time::Duration;

use super::message::DrainMessage;
use gitlab_runner_api::{CancellationToken, Deletion, GitlabError, SecretString};
use tokio::time::Instant;

use super::error::{DrainError, Stage, TeardownError, humanize};
use super::gitlab_side::{
    GitlabAccess, JobVisibility, no_gitlab_warning, partial_visibility_warning,
};
use super::identity::{job_pod_selector, read_runner_token};
use super::manager::{StopFailure, stop_manager};
use super::removal::{RemovalFailure, confirm_gone};
use super::settings::{DrainSettings, OnDrainTimeout};
use super::target::{DrainTarget, ReleaseLayout};
use super::wait::{WaitFailure, WaitOutcome, WaitSources, wait_until_idle};
use crate::kube::{Budget, CANCEL_GRACE, KubeError};

/// How long resuming a runner may take after a failed or interrupted drain before an upgrade
/// (not cancelled by `StopProvider`): the grace policy's [`CancelGrace::finish`](crate::kube::CancelGrace::finish).
const RESUME_GRACE: Duration = CANCEL_GRACE.finish;

/// Everything a teardown needs. Build one per operation.
#[derive(Clone)]
pub struct Teardown {
    /// The cluster.
    pub kube: kube::Client,
    /// GitLab, when an access token is configured ([`GitlabAccess::from_settings`]).
    pub gitlab: Option<GitlabAccess>,
    /// The release.
    pub target: DrainTarget,
    /// The drain attributes.
    pub settings: DrainSettings,
    /// Terraform's cancellation (`StopProvider`): `ctx.cancellation().clone()`.
    pub cancel: CancellationToken,
    /// When the whole operation must be done (`timeouts.delete` / `timeouts.update`).
    pub deadline: Instant,
}

impl std::fmt::Debug for Teardown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teardown")
            .field("gitlab", &self.gitlab)
            .field("target", &self.target)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What happened, for the operation's diagnostics.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// The runner's id in GitLab, when known.
    pub runner_id: Option<u64>,
    /// Warnings to show (no GitLab access, partial job visibility, forced drain, runner kept).
    pub warnings: Vec<DrainMessage>,
    /// How long the wait for running jobs took.
    pub waited: Duration,
    /// Whether jobs were cut off (`on_drain_timeout = "force"`).
    pub forced: bool,
    /// Whether the runner was deleted in GitLab (or was already gone).
    pub runner_deleted: bool,
}

/// The state after the steps before the uninstall; pass it on to the next step.
#[derive(Debug)]
pub struct Drained {
    /// Whether the runner was paused before the drain paused it (`None`: not paused by us).
    pub was_paused: Option<bool>,
    /// The release's objects (`None` when the release is already gone).
    pub layout: Option<ReleaseLayout>,
    /// The report so far.
    pub report: DrainReport,
}

impl Drained {
    /// The runner this drain paused (it was running before), if any.
    pub fn paused_by_us(&self) -> Option<u64> {
        self.report
            .runner_id
            .filter(|_| self.was_paused == Some(false))
    }
}

/// A failed drain before an upgrade.
#[derive(Debug)]
pub struct UpdateDrainFailure {
    pub error: DrainError,
    /// The runner the drain paused and could not resume again.
    pub left_paused: Option<u64>,
}

/// Warnings a plan can show for a release's destroy (no GitLab access configured).
pub fn plan_warnings(gitlab_access_configured: bool, release: &str) -> Vec<DrainMessage> {
    if gitlab_access_configured {
        Vec::new()
    } else {
        vec![no_gitlab_warning(release)]
    }
}

impl Teardown {
    /// The whole teardown, with `uninstall` (the release resource's `helm uninstall` step) run
    /// once the manager is stopped; its error comes back typed in
    /// [`TeardownError::Uninstall`].
    pub async fn run<F, Fut, E>(&self, uninstall: F) -> Result<DrainReport, TeardownError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let drained = self.before_uninstall().await?;
        if drained.layout.is_some() {
            tracing::info!(release = %self.target.id(), "drain: uninstalling the release");
            uninstall()
                .await
                .map_err(|source| TeardownError::Uninstall {
                    release: self.target.id(),
                    source,
                })?;
        }
        Ok(self.after_uninstall(drained).await?)
    }

    /// Steps 1–3: pause, wait for running jobs, scale the manager to zero and wait for its pods
    /// (its ServiceAccount, Role and RoleBinding stay until the uninstall).
    pub async fn before_uninstall(&self) -> Result<Drained, DrainError> {
        let layout = self.read_layout().await?;
        let mut drained = self.pause_and_drain().await?;
        drained.layout = layout;
        if let Some(layout) = &drained.layout {
            for deployment in &layout.deployments {
                self.stop_manager(deployment).await?;
            }
        }
        Ok(drained)
    }

    /// Steps after the uninstall: confirm the release's objects are gone, then delete the
    /// runner in GitLab (or leave it paused and say so).
    pub async fn after_uninstall(&self, drained: Drained) -> Result<DrainReport, DrainError> {
        let Drained {
            layout, mut report, ..
        } = drained;
        if let Some(layout) = &layout {
            confirm_gone(&self.kube, &layout.objects, self.deadline, &self.cancel)
                .await
                .map_err(|failure| self.removal_error(failure, report.runner_id))?;
            tracing::info!(release = %self.target.id(), "drain: the release's objects are gone");
        }
        self.settle_runner(&mut report).await?;
        Ok(report)
    }

    /// Before an upgrade (`drain_on_update`): pause and wait for running jobs. If the wait
    /// fails, the runner is resumed again (best effort) and the error returned.
    pub async fn drain_for_update(&self) -> Result<Drained, DrainError> {
        self.drain_for_update_tracked()
            .await
            .map_err(|failure| failure.error)
    }

    /// [`Teardown::drain_for_update`], also saying which runner stays paused when the drain
    /// failed and resuming it failed too (so the caller can resume it later).
    pub async fn drain_for_update_tracked(&self) -> Result<Drained, UpdateDrainFailure> {
        let (drained, error) = match self.pause_and_drain_parts().await {
            Ok(drained) => return Ok(drained),
            Err(parts) => parts,
        };
        let mut left_paused = None;
        if let Some(drained) = drained {
            let cancel = CancellationToken::new();
            let deadline = Instant::now() + RESUME_GRACE;
            if let Err(resume_error) = self.resume(&drained, deadline, &cancel).await {
                tracing::warn!(error = %resume_error, "drain: could not resume the runner after a failed drain");
                left_paused = drained.paused_by_us();
            }
        }
        Err(UpdateDrainFailure { error, left_paused })
    }

    /// After an upgrade: resume the runner if the drain paused it. The resume gets its own
    /// short grace period ([`RESUME_GRACE`], not cancelled by `StopProvider`) when the upgrade
    /// was cancelled or left less than that of the operation's time (the grace policy,
    /// [`CancelGrace::applies`](crate::kube::CancelGrace::applies)), so an interrupted upgrade
    /// does not leave the runner paused.
    pub async fn resume_after_update(&self, drained: Drained) -> Result<DrainReport, DrainError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if !CANCEL_GRACE.applies(self.cancel.is_cancelled(), remaining) {
            match self.resume(&drained, self.deadline, &self.cancel).await {
                Err(DrainError::Cancelled { .. }) => {
                    tracing::info!(
                        "drain: cancelled while resuming the runner; resuming within the grace period"
                    );
                }
                other => return other.map(|()| drained.report),
            }
        }
        let grace = CancellationToken::new();
        self.resume(&drained, Instant::now() + RESUME_GRACE, &grace)
            .await?;
        Ok(drained.report)
    }

    /// Resumes runner `runner_id`, which an earlier, interrupted `drain_on_update` paused, within
    /// the operation's deadline (or [`RESUME_GRACE`] when that is shorter).
    pub async fn resume_runner(&self, runner_id: u64) -> Result<(), DrainError> {
        let drained = Drained {
            was_paused: Some(false),
            layout: None,
            report: DrainReport {
                runner_id: Some(runner_id),
                ..DrainReport::default()
            },
        };
        let deadline = self.deadline.max(Instant::now() + RESUME_GRACE);
        self.resume(&drained, deadline, &self.cancel).await
    }

    async fn resume(
        &self,
        drained: &Drained,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<(), DrainError> {
        let (Some(access), Some(runner_id), Some(false)) =
            (&self.gitlab, drained.report.runner_id, drained.was_paused)
        else {
            if drained.was_paused == Some(true) {
                tracing::info!(
                    "drain: the runner was paused before the upgrade; leaving it paused"
                );
            }
            return Ok(());
        };
        access
            .set_paused(runner_id, false, deadline, cancel)
            .await
            .map_err(|source| self.gitlab_error(Stage::Resume, source, Some(runner_id)))?;
        tracing::info!(runner_id, "drain: resumed the runner");
        Ok(())
    }

    async fn pause_and_drain(&self) -> Result<Drained, DrainError> {
        self.pause_and_drain_parts()
            .await
            .map_err(|(_, error)| error)
    }

    /// Pause + wait. On failure, also returns what was done so far (to resume after it).
    async fn pause_and_drain_parts(&self) -> Result<Drained, (Option<Drained>, DrainError)> {
        let release = self.target.id();
        let mut report = DrainReport::default();
        let budget = self.budget();
        let token = read_runner_token(
            &self.kube,
            &self.target.namespace,
            &self.target.token_secret(),
            &budget,
        )
        .await
        .map_err(|source| (None, self.kube_error(Stage::Pause, source, None)))?;
        let selector = job_pod_selector(token.as_ref(), self.target.runner_name.as_deref());
        if selector.is_none() {
            report.warnings.push(DrainMessage::new(
                "Job Pods Cannot Be Found",
                format!(
                    "The token Secret {}/{} holds no runner token and no runner name is set, so \
                     the drain of release {release} cannot watch the runner's job pods{}.",
                    self.target.namespace,
                    self.target.token_secret(),
                    if self.gitlab.is_some() {
                        "; GitLab's job list alone decides"
                    } else {
                        " and no GitLab access is configured: running jobs are not waited for"
                    }
                ),
            ));
        }
        let was_paused = match &self.gitlab {
            Some(access) => self
                .pause(access, token.as_ref(), &mut report)
                .await
                .map_err(|error| (None, error))?,
            None => {
                report.warnings.push(no_gitlab_warning(&release));
                None
            }
        };
        let mut drained = Drained {
            was_paused,
            layout: None,
            report,
        };
        let gitlab = match (&self.gitlab, drained.report.runner_id) {
            (Some(access), Some(id)) => Some((access, id)),
            _ => None,
        };
        let drain_deadline = (Instant::now() + self.settings.drain_timeout).min(self.deadline);
        let sources = WaitSources {
            gitlab,
            pods: selector
                .as_ref()
                .map(|selector| (&self.kube, self.target.job_namespace(), selector)),
        };
        tracing::info!(
            release = %release,
            runner_id = ?drained.report.runner_id,
            drain_timeout = %humanize(self.settings.drain_timeout),
            "drain: waiting for running jobs to finish"
        );
        let runner_id = drained.report.runner_id;
        match wait_until_idle(sources, drain_deadline, &self.cancel).await {
            Ok(WaitOutcome::Idle { waited }) => {
                tracing::info!(release = %release, waited = %humanize(waited), "drain: no job is running");
                drained.report.waited = waited;
                Ok(drained)
            }
            Ok(WaitOutcome::TimedOut { still_running }) => {
                let waited = self.settings.drain_timeout;
                if self.settings.on_drain_timeout == OnDrainTimeout::Force {
                    let jobs: String = still_running
                        .lines()
                        .iter()
                        .map(|line| format!("\n  - {line}"))
                        .collect();
                    drained.report.forced = true;
                    drained.report.warnings.push(DrainMessage::new(
                        "Running Jobs Cut Off",
                        format!(
                            "Jobs were still running on the runner of release {release} after \
                             {} and on_drain_timeout = \"force\", so the teardown went on:{jobs}",
                            humanize(waited)
                        ),
                    ));
                    Ok(drained)
                } else {
                    Err((
                        Some(drained),
                        DrainError::DrainTimedOut {
                            release,
                            runner_id,
                            waited,
                            still_running,
                        },
                    ))
                }
            }
            Err(failure) => {
                let error = match failure {
                    WaitFailure::Gitlab(source) => {
                        self.gitlab_error(Stage::Drain, source, runner_id)
                    }
                    WaitFailure::Pods(message) => DrainError::Watch {
                        stage: Stage::Drain,
                        release,
                        message,
                    },
                    WaitFailure::Cancelled => DrainError::Cancelled {
                        stage: Stage::Drain,
                        release,
                        runner_id,
                    },
                };
                Err((Some(drained), error))
            }
        }
    }

    /// Finds the runner id and pauses the runner. Returns whether it was paused before.
    async fn pause(
        &self,
        access: &GitlabAccess,
        token: Option<&SecretString>,
        report: &mut DrainReport,
    ) -> Result<Option<bool>, DrainError> {
        let release = self.target.id();
        let runner_id = match (self.settings.runner_id, token) {
            (Some(id), _) => Some(id),
            (None, Some(token)) => access
                .runner_id_from_token(token, self.deadline, &self.cancel)
                .await
                .map_err(|source| self.gitlab_error(Stage::Pause, source, None))?,
            (None, None) => None,
        };
        let Some(runner_id) = runner_id else {
            report.warnings.push(DrainMessage::new(
                "Runner Not Found In GitLab",
                format!(
                    "GitLab does not know the runner token of release {release} (the runner was \
                     deleted, or its token reset), or the token Secret is gone, so the runner \
                     cannot be paused. Set runner_id to pause it; the job pods alone decide when \
                     it is idle."
                ),
            ));
            return Ok(None);
        };
        let was_paused = access
            .set_paused(runner_id, true, self.deadline, &self.cancel)
            .await
            .map_err(|source| self.gitlab_error(Stage::Pause, source, Some(runner_id)))?;
        let Some(was_paused) = was_paused else {
            tracing::info!(runner_id, "drain: the runner no longer exists in GitLab");
            return Ok(None);
        };
        report.runner_id = Some(runner_id);
        tracing::info!(
            runner_id,
            already_paused = was_paused,
            "drain: paused the runner in GitLab"
        );
        if access
            .job_visibility(self.deadline, &self.cancel)
            .await
            .map_err(|source| self.gitlab_error(Stage::Pause, source, Some(runner_id)))?
            == JobVisibility::MaybePartial
        {
            report.warnings.push(partial_visibility_warning(runner_id));
        }
        Ok(Some(was_paused))
    }

    async fn read_layout(&self) -> Result<Option<ReleaseLayout>, DrainError> {
        let release = self.target.id();
        let record = helm_driver::read_latest_release(
            &self.kube,
            &self.target.namespace,
            &self.target.release,
        )
        .await
        .map_err(|error| DrainError::ReleaseRead {
            release: release.clone(),
            reason: error.to_string(),
        })?;
        let Some(record) = record else {
            tracing::info!(release = %release, "drain: the release is not installed");
            return Ok(None);
        };
        let objects = helm_driver::parse_manifest(&record.manifest, &self.target.namespace)
            .map_err(|error| DrainError::ReleaseRead {
                release,
                reason: error.to_string(),
            })?;
        Ok(Some(ReleaseLayout::from_objects(objects)))
    }

    async fn stop_manager(&self, deployment: &str) -> Result<(), DrainError> {
        stop_manager(
            &self.kube,
            &self.target.namespace,
            deployment,
            self.deadline,
            &self.cancel,
        )
        .await
        .map_err(|failure| match failure {
            StopFailure::Kube(source) => self.kube_error(Stage::StopManager, source, None),
            StopFailure::Watch(message) => DrainError::Watch {
                stage: Stage::StopManager,
                release: self.target.id(),
                message,
            },
            StopFailure::TimedOut { remaining } => DrainError::TimedOut {
                stage: Stage::StopManager,
                release: self.target.id(),
                what: format!("manager pods still running: {}", remaining.join(", ")),
            },
            StopFailure::Cancelled => DrainError::Cancelled {
                stage: Stage::StopManager,
                release: self.target.id(),
                runner_id: None,
            },
        })
    }

    /// Step 4: delete the runner in GitLab when asked to (or owned), else say it is kept.
    async fn settle_runner(&self, report: &mut DrainReport) -> Result<(), DrainError> {
        let release = self.target.id();
        let runner_id = report.runner_id.or(self.settings.runner_id);
        if !self.settings.deletes_runner() {
            if let Some(id) = runner_id {
                report.warnings.push(DrainMessage::new(
                    "GitLab Runner Left Paused",
                    format!(
                        "Release {release} is uninstalled; GitLab runner {id} is paused and kept. \
                         Delete it in GitLab, or set delete_runner_on_destroy = true to have \
                         destroy delete it."
                    ),
                ));
            }
            return Ok(());
        }
        let (Some(access), Some(id)) = (&self.gitlab, runner_id) else {
            report.warnings.push(DrainMessage::new(
                "GitLab Runner Not Deleted",
                format!(
                    "delete_runner_on_destroy is set, but {} so the runner of release {release} \
                     was not deleted in GitLab.",
                    if self.gitlab.is_none() {
                        "no GitLab access token is configured"
                    } else {
                        "its id is unknown (set runner_id)"
                    }
                ),
            ));
            return Ok(());
        };
        let outcome = access
            .delete_runner(id, self.deadline, &self.cancel)
            .await
            .map_err(|source| self.gitlab_error(Stage::DeleteRunner, source, Some(id)))?;
        match outcome {
            Deletion::Deleted => {
                tracing::info!(runner_id = id, "drain: deleted the runner in GitLab")
            }
            Deletion::AlreadyGone => {
                tracing::info!(
                    runner_id = id,
                    "drain: the runner was already deleted in GitLab"
                );
            }
        }
        report.runner_deleted = true;
        Ok(())
    }

    fn budget(&self) -> Budget {
        Budget::with_token(
            self.deadline.saturating_duration_since(Instant::now()),
            self.cancel.clone(),
        )
    }

    fn gitlab_error(
        &self,
        stage: Stage,
        source: GitlabError,
        runner_id: Option<u64>,
    ) -> DrainError {
        if matches!(source, GitlabError::Cancelled { .. }) {
            return DrainError::Cancelled {
                stage,
                release: self.target.id(),
                runner_id,
            };
        }
        DrainError::Gitlab {
            stage,
            release: self.target.id(),
            error: source,
        }
    }

    fn kube_error(&self, stage: Stage, source: KubeError, runner_id: Option<u64>) -> DrainError {
        if matches!(source, KubeError::Cancelled { .. }) {
            return DrainError::Cancelled {
                stage,
                release: self.target.id(),
                runner_id,
            };
        }
        DrainError::Kube {
            stage,
            release: self.target.id(),
            error: source,
        }
    }

    fn removal_error(&self, failure: RemovalFailure, runner_id: Option<u64>) -> DrainError {
        match failure {
            RemovalFailure::Kube(source) => self.kube_error(Stage::Uninstall, source, runner_id),
            RemovalFailure::Remaining(objects) => DrainError::TimedOut {
                stage: Stage::Uninstall,
                release: self.target.id(),
                what: format!(
                    "still present after the uninstall: {}",
                    objects
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            RemovalFailure::Cancelled => DrainError::Cancelled {
                stage: Stage::Uninstall,
                release: self.target.id(),
                runner_id,
            },
        }
    }
}
