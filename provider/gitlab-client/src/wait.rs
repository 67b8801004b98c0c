//! Waiting until a runner has no running jobs, polling GitLab with a bounded backoff.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::GitlabClient;
use crate::error::GitlabError;
use crate::models::Job;
use crate::retry::{RetryPolicy, retry};

/// How often to poll, and how to retry failed polls.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// Wait after the first poll that still sees jobs.
    pub min_interval: Duration,
    /// Longest wait between polls: bounds how late the end of the last job is noticed.
    pub max_interval: Duration,
    /// Growth factor of the wait while jobs keep running.
    pub multiplier: f64,
    /// Retries of a failed poll (429, 5xx, transport), within the same deadline.
    pub retry: RetryPolicy,
}

impl Default for PollPolicy {
    /// 250 ms growing by half to 1 s; default retries.
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(250),
            max_interval: Duration::from_secs(1),
            multiplier: 1.5,
            retry: RetryPolicy::default(),
        }
    }
}

/// How waiting ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitOutcome {
    /// GitLab lists no running job for the runner (that the token can see).
    Idle {
        /// Polls made.
        polls: u32,
    },
    /// The deadline came first; these jobs were running at the last poll.
    TimedOut {
        /// The jobs still running.
        still_running: Vec<Job>,
    },
}

/// Polls `GET /runners/:id/jobs?status=running` until it is empty or `deadline` passes.
///
/// `on_change` is called with the running jobs after the first poll and whenever the set of
/// running jobs changes (for progress logs). Failed polls are retried per `policy.retry`;
/// an error that is not retryable (401, 403, …), a GitLab outage lasting to the deadline
/// ([`GitlabError::DeadlineExceeded`]) or cancellation ends the wait with an error.
/// With a non-administrator token, jobs of projects its user cannot see are not listed.
pub async fn wait_for_no_running_jobs(
    client: &GitlabClient,
    runner_id: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    policy: &PollPolicy,
    mut on_change: impl FnMut(&[Job]),
) -> Result<WaitOutcome, GitlabError> {
    let mut polls = 0;
    let mut interval = policy.min_interval;
    let mut last_seen: Option<BTreeSet<u64>> = None;
    loop {
        let jobs = retry(&policy.retry, Some(deadline), cancel, || {
            client.running_jobs(runner_id)
        })
        .await?;
        polls += 1;
        let ids: BTreeSet<u64> = jobs.iter().map(|job| job.id).collect();
        if last_seen.as_ref() != Some(&ids) {
            on_change(&jobs);
            last_seen = Some(ids);
        }
        if jobs.is_empty() {
            return Ok(WaitOutcome::Idle { polls });
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(WaitOutcome::TimedOut {
                still_running: jobs,
            });
        }
        let wake = (now + interval).min(deadline);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(GitlabError::Cancelled { last: None }),
            () = tokio::time::sleep_until(wake) => {}
        }
        if wake >= deadline {
            return Ok(WaitOutcome::TimedOut {
                still_running: jobs,
            });
        }
        interval = interval
            .mul_f64(policy.multiplier.max(1.0))
            .min(policy.max_interval);
    }
}
