//! The teardown's one error type, and the one place it becomes a diagnostic.

use std::time::Duration;

use super::message::DrainMessage;
use gitlab_runner_api::GitlabError;

use crate::kube::KubeError;

use super::running::RunningWork;

/// Where in the teardown something stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Finding and pausing the runner.
    Pause,
    /// Waiting for running jobs.
    Drain,
    /// Scaling the manager to zero and waiting for its pods.
    StopManager,
    /// `helm uninstall` and confirming the objects are gone.
    Uninstall,
    /// Deleting the runner in GitLab.
    DeleteRunner,
    /// Resuming the runner after an upgrade.
    Resume,
}

impl Stage {
    fn describe(self) -> &'static str {
        match self {
            Self::Pause => "pausing the runner",
            Self::Drain => "waiting for running jobs",
            Self::StopManager => "stopping the runner manager",
            Self::Uninstall => "uninstalling the release",
            Self::DeleteRunner => "deleting the runner in GitLab",
            Self::Resume => "resuming the runner",
        }
    }

    /// Whether the release is still installed when the teardown stops here.
    fn release_untouched(self) -> bool {
        matches!(self, Self::Pause | Self::Drain | Self::StopManager)
    }
}

/// Why a teardown (or a drain before an upgrade) stopped.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// GitLab refused or failed a call that matters (401/403, an outage past the deadline, …).
    /// The cause is part of the message (shown as text), so not also the `source()`.
    #[error("{} for release {release}: {error}", stage.describe())]
    Gitlab {
        stage: Stage,
        release: String,
        error: GitlabError,
    },
    /// A Kubernetes request failed.
    /// The cause is part of the message (shown as text), so not also the `source()`.
    #[error("{} for release {release}: {error}", stage.describe())]
    Kube {
        stage: Stage,
        release: String,
        error: KubeError,
    },
    /// Watching pods failed in a way retrying cannot fix.
    #[error("{} for release {release}: {message}", stage.describe())]
    Watch {
        stage: Stage,
        release: String,
        message: String,
    },
    /// The release record could not be read.
    #[error("reading the helm release record of {release}: {reason}")]
    ReleaseRead { release: String, reason: String },
    /// Jobs were still running at `drain_timeout` (and `on_drain_timeout = "fail"`).
    #[error("jobs still running on the runner of release {release} after {}", humanize(*waited))]
    DrainTimedOut {
        release: String,
        runner_id: Option<u64>,
        waited: Duration,
        still_running: RunningWork,
    },
    /// The operation's own timeout (`timeouts.delete` / `timeouts.update`) ran out.
    #[error("{} for release {release} did not finish in time: {what}", stage.describe())]
    TimedOut {
        stage: Stage,
        release: String,
        what: String,
    },
    /// Terraform asked the provider to stop (Ctrl-C).
    #[error("interrupted while {} for release {release}", stage.describe())]
    Cancelled {
        stage: Stage,
        release: String,
        runner_id: Option<u64>,
    },
}

/// Why [`super::Teardown::run`] stopped: a drain step, or the caller's own uninstall step, whose
/// error comes back as it is (a `HelmError` keeps what helm said, for the caller's advice).
#[derive(Debug, thiserror::Error)]
pub enum TeardownError<E> {
    #[error(transparent)]
    Drain(#[from] DrainError),
    /// The uninstall failed after the manager was stopped and the runner paused.
    #[error("uninstalling release {release} failed")]
    Uninstall {
        release: String,
        #[source]
        source: E,
    },
}

impl<E: std::fmt::Display> TeardownError<E> {
    /// What Terraform shows, as [`DrainError::message`]; an uninstall failure says what helm
    /// (or the caller's step) reported and the state the teardown left.
    pub fn message(&self) -> DrainMessage {
        match self {
            Self::Drain(error) => error.message(),
            Self::Uninstall { release, source } => DrainMessage::new(
                "Release Uninstall Failed",
                format!(
                    "Uninstalling release {release} failed: {source}.\n\nThe runner manager is \
                     stopped and the runner paused; run the command again to retry the uninstall."
                ),
            ),
        }
    }
}

impl DrainError {
    /// What Terraform shows (the release makes it an error diagnostic): a Title Case summary,
    /// what happened, what state things are in, and what to do next.
    pub fn message(&self) -> DrainMessage {
        match self {
            Self::Gitlab { stage, error, .. } => {
                let next = if error.is_auth_failure() {
                    "Fix the GitLab token (provider gitlab block or GITLAB_TOKEN) and run the command again."
                } else if matches!(error, GitlabError::Tls { .. }) {
                    "If GitLab uses a private CA, set ca_certificate in the provider's gitlab block to its certificate (PEM) and run the command again."
                } else {
                    "GitLab kept failing; run the command again when it is reachable."
                };
                DrainMessage::new(
                    "GitLab Request Failed During Drain",
                    format!("{self}.\n\n{}\n\n{next}", state_note(*stage, None)),
                )
            }
            Self::Kube { stage, error, .. } => {
                let diagnostic = error.diagnostic();
                DrainMessage::new(
                    diagnostic.summary,
                    format!(
                        "While {}: {}\n\n{}",
                        stage.describe(),
                        diagnostic.detail,
                        state_note(*stage, None)
                    ),
                )
            }
            Self::Watch { stage, .. } => DrainMessage::new(
                "Cannot Watch Pods During Drain",
                format!("{self}.\n\n{}", state_note(*stage, None)),
            ),
            Self::ReleaseRead { .. } => DrainMessage::new(
                "Cannot Read The Helm Release",
                format!(
                    "{self}.\n\nNothing was deleted. Check the provider's access to Secrets in the \
                     release namespace and run the command again."
                ),
            ),
            Self::DrainTimedOut {
                runner_id,
                still_running,
                ..
            } => {
                let jobs: String = still_running
                    .lines()
                    .iter()
                    .map(|line| format!("\n  - {line}"))
                    .collect();
                DrainMessage::new(
                    "Runner Drain Timed Out",
                    format!(
                        "{self}:{jobs}\n\n{}\n\nWait for the jobs (or cancel them in GitLab) and run \
                         the command again, raise drain_timeout, or set on_drain_timeout = \"force\" \
                         to cut them off.",
                        state_note(Stage::Drain, *runner_id)
                    ),
                )
            }
            Self::TimedOut { stage, .. } => DrainMessage::new(
                "Release Teardown Timed Out",
                format!(
                    "{self}.\n\n{}\n\nRaise the timeouts block's value and run the command again.",
                    state_note(*stage, None)
                ),
            ),
            Self::Cancelled {
                stage, runner_id, ..
            } => DrainMessage::new(
                "Release Teardown Interrupted",
                format!(
                    "{self}.\n\n{}\n\nRun the command again to resume the drain.",
                    state_note(*stage, *runner_id)
                ),
            ),
        }
    }
}

/// What state the teardown leaves behind when it stops at `stage`.
fn state_note(stage: Stage, runner_id: Option<u64>) -> String {
    let runner = match (stage, runner_id) {
        (Stage::Pause, _) => {
            "the runner was not paused (or its pause could not be confirmed)".to_owned()
        }
        (_, Some(id)) => format!("GitLab runner {id} stays paused"),
        (_, None) => "the runner stays paused (when GitLab access is configured)".to_owned(),
    };
    if stage.release_untouched() {
        format!("Nothing was deleted: the release is still installed and {runner}.")
    } else {
        format!("The release may be partly removed and {runner}.")
    }
}

/// `30m`, `1h5m`, `45s`, `1.5s`.
pub fn humanize(duration: Duration) -> String {
    let total = duration.as_secs();
    if total == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || out.is_empty() {
        out.push_str(&format!("{seconds}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain::job_pods::JobPod;

    #[test]
    fn a_kube_failure_says_its_cause_once() {
        let error = DrainError::Kube {
            stage: Stage::Pause,
            release: "ci/runner".into(),
            error: KubeError::ConnectionUnknown {
                attributes: "host".into(),
            },
        };
        let text = error.to_string();
        assert_eq!(text.matches("is not known yet (host)").count(), 1, "{text}");
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn durations_read_like_terraform_durations() {
        assert_eq!(humanize(Duration::from_secs(1800)), "30m");
        assert_eq!(humanize(Duration::from_secs(3905)), "1h5m5s");
        assert_eq!(humanize(Duration::from_secs(45)), "45s");
        assert_eq!(humanize(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn drain_timeout_lists_the_jobs_and_says_nothing_was_deleted() {
        let error = DrainError::DrainTimedOut {
            release: "runners/ci".into(),
            runner_id: Some(42),
            waited: Duration::from_secs(60),
            still_running: RunningWork {
                gitlab_jobs: Vec::new(),
                pods: vec![JobPod {
                    namespace: "jobs".into(),
                    pod: "runner-x".into(),
                    phase: "Running".into(),
                    job_id: Some(5),
                    job_name: Some("test".into()),
                    project_id: Some("3".into()),
                    url: Some("https://gitlab.example.com/a/b/-/jobs/5".into()),
                }],
            },
        };
        let diagnostic = error.message();
        assert_eq!(diagnostic.summary, "Runner Drain Timed Out");
        assert_eq!(
            diagnostic.detail,
            "jobs still running on the runner of release runners/ci after 1m:\n  - pod jobs/runner-x \
             (job #5 test, project 3, https://gitlab.example.com/a/b/-/jobs/5)\n\nNothing was \
             deleted: the release is still installed and GitLab runner 42 stays paused.\n\nWait for \
             the jobs (or cancel them in GitLab) and run the command again, raise drain_timeout, or \
             set on_drain_timeout = \"force\" to cut them off."
        );
    }

    #[test]
    fn interruption_says_how_to_resume() {
        let diagnostic = DrainError::Cancelled {
            stage: Stage::Drain,
            release: "runners/ci".into(),
            runner_id: None,
        }
        .message();
        assert_eq!(diagnostic.summary, "Release Teardown Interrupted");
        assert!(diagnostic.detail.contains("the release is still installed"));
        assert!(
            diagnostic
                .detail
                .ends_with("Run the command again to resume the drain.")
        );
    }
}
