//! A small client for the GitLab REST endpoints that manage runners: find a runner from its
//! token, read, pause/resume, list running jobs and managers, delete, create.
//!
//! - Requests are values built by pure functions in [`requests`] (exactly unit-tested).
//! - [`GitlabClient`] sends one attempt per call and classifies failures into [`GitlabError`]
//!   (401, 403, 404, 429 with `Retry-After`, 5xx, transport), each saying what to fix.
//! - [`retry`] retries the transient ones with exponential backoff and jitter, honouring
//!   `Retry-After`, within a deadline and a [`CancellationToken`].
//! - [`wait_for_no_running_jobs`] polls GitLab until a runner's running jobs are done.
//! - [`short_token`] computes the job-pod label value from a runner token.
//!
//! The access token never appears in `Debug` output or error messages. Redirects are followed
//! only within the origin (scheme, host, port) a request went to: credentials never cross origins.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gitlab_runner_api::GitlabError> {
//! use gitlab_runner_api::{ClientConfig, GitlabClient, RetryPolicy, retry, CancellationToken};
//! let client = GitlabClient::new(ClientConfig::new(
//!     "https://gitlab.example.com",
//!     "glpat-…".to_owned().into(),
//! ))?;
//! let cancel = CancellationToken::new();
//! let policy = RetryPolicy::default();
//! let runner = retry(&policy, None, &cancel, || client.verify_runner("glrt-…")).await?;
//! retry(&policy, None, &cancel, || client.set_paused(runner.id, true)).await?;
//! let running = retry(&policy, None, &cancel, || client.running_jobs(runner.id)).await?;
//! # let _ = running; Ok(()) }
//! ```

mod client;
mod error;
mod models;
mod operation;
mod redirect;
pub mod requests;
mod retry;
mod short_token;
mod wait;

pub use client::{ClientConfig, GitlabClient, api_base_url};
pub use error::GitlabError;
pub use models::{
    AccessLevel, CreateRunner, CreatedRunner, CurrentUser, Deletion, Job, JobPipeline, JobProject,
    Manager, ResetToken, Runner, RunnerIdentity, RunnerScope, RunnerSettings,
};
pub use operation::Operation;
pub use redirect::shown as url_for_messages;
pub use requests::ApiRequest;
pub use retry::{RetryPolicy, retry};
pub use secrecy::{ExposeSecret, SecretString};
pub use short_token::short_token;
pub use tokio_util::sync::CancellationToken;
pub use wait::{PollPolicy, WaitOutcome, wait_for_no_running_jobs};
