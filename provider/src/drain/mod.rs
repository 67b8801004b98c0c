//! The paused-drain teardown of a `gitlabrunner_release` (issue 6).
//!
//! Destroying a runner must not cut off running jobs, nor delete the manager's Role and
//! RoleBinding while it still cleans up job pods (chart issue #225). [`Teardown`] runs:
//!
//! 1. **Pause**: read the runner token from the token Secret (never logged), find the runner id
//!    (`runner_id`, else `POST /runners/verify`) and pause it — when GitLab access is configured.
//! 2. **Drain**: wait until GitLab lists no running job (polled, 250 ms growing to 1 s) AND no
//!    job pod (`manager.runner.gitlab.com/id-short=<short token>`, Pending/Running, not being
//!    deleted) remains — pods are watched. Progress is logged at INFO.
//! 3. **Stop the manager**: scale its Deployment to 0 and wait for its pods to be gone while its
//!    RBAC objects still exist; then the release resource uninstalls, and the objects are
//!    confirmed gone.
//! 4. **Runner in GitLab**: deleted when `delete_runner_on_destroy` (or owned), else left paused
//!    with a warning.
//!
//! Bounded by `drain_timeout` and the operation's deadline; a drain timeout stops before any
//! deletion unless `on_drain_timeout = "force"`. Cancellation (`StopProvider`) stops between
//! requests with the release installed and the runner paused; every step is idempotent, so the
//! next destroy resumes. [`Teardown::drain_for_update`] / [`Teardown::resume_after_update`]
//! wrap an upgrade when `drain_on_update` is set; the resume gets its own short grace period
//! when the upgrade was cancelled or ran out of time, and a runner it still could not resume is
//! remembered in the release's private state and resumed by the next apply (the release's
//! `resources/release/drain.rs`).
//!
//! This module knows nothing of the release resource: `resources/release/drain.rs` maps its
//! attributes onto [`DrainTarget`] / [`DrainSettings`] and wraps its destroy and update.

mod error;
mod gitlab_side;
mod gitlab_url;
mod identity;
mod job_pods;
mod manager;
mod message;
mod pod_watch;
mod removal;
mod running;
mod settings;
mod target;
mod teardown;
mod wait;

pub use error::{DrainError, Stage, TeardownError};
pub use gitlab_side::{GitlabAccess, GitlabAccessError, JobVisibility, no_gitlab_warning};
pub use gitlab_url::{ApiUrlSource, DrainApiUrl, HostMismatch, drain_api_url};
pub use identity::{RUNNER_TOKEN_KEY, job_pod_selector, token_from_secret};
pub use job_pods::{
    ID_SHORT_LABEL, JobPod, JobPodSelector, MANAGER_NAME_LABEL, is_running_job_pod,
};
pub use message::DrainMessage;
pub use running::RunningWork;
pub use settings::{DEFAULT_DRAIN_TIMEOUT, DrainSettings, InvalidOnDrainTimeout, OnDrainTimeout};
pub use target::{DrainTarget, ObjectRef, ReleaseLayout, chart_fullname};
pub use teardown::{DrainReport, Drained, Teardown, UpdateDrainFailure, plan_warnings};
