//! Waiting until the runner is idle: GitLab's running jobs (polled with a short, growing
//! interval) AND the runner's job pods (watched), both empty at the same time.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use gitlab_runner_api::{CancellationToken, GitlabError, Job, retry};
use tokio::sync::watch;
use tokio::time::Instant;

use super::error::humanize;
use super::gitlab_side::{GitlabAccess, POLL_MAX, POLL_MIN};
use super::job_pods::{JobPodSelector, running_job_pods};
use super::pod_watch::{PodView, spawn_pod_watch};
use super::running::RunningWork;

/// How often a long drain repeats its progress line even when nothing changes.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// What to watch.
pub struct WaitSources<'a> {
    /// The runner in GitLab, when GitLab access is configured and the runner is known.
    pub gitlab: Option<(&'a GitlabAccess, u64)>,
    /// The job pods: Kubernetes client, namespace, selector.
    pub pods: Option<(&'a kube::Client, &'a str, &'a JobPodSelector)>,
}

/// How the wait ended.
#[derive(Debug)]
pub enum WaitOutcome {
    /// Nothing runs any more.
    Idle { waited: Duration },
    /// The deadline came first; this was still running.
    TimedOut { still_running: RunningWork },
}

/// Why the wait stopped early.
#[derive(Debug)]
pub enum WaitFailure {
    /// GitLab failed for good (401/403, …).
    Gitlab(GitlabError),
    /// Watching the job pods failed for good (the message says why and what to do).
    Pods(String),
    /// Terraform asked the provider to stop.
    Cancelled,
}

#[derive(Debug, Clone, Default)]
enum GitlabView {
    #[default]
    Pending,
    Known(Vec<Job>),
}

/// Waits until GitLab lists no running job for the runner and no job pod is Pending/Running,
/// or `deadline` passes. Logs progress at INFO: how many jobs, which, and the time left.
pub async fn wait_until_idle(
    sources: WaitSources<'_>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<WaitOutcome, WaitFailure> {
    let started = Instant::now();
    let watch_cancel = cancel.child_token();
    let _stop_watch = watch_cancel.clone().drop_guard();
    let (_no_pods, unwatched) = watch::channel(PodView::Known(Default::default()));
    let mut pods_rx = match sources.pods {
        Some((client, namespace, selector)) => {
            spawn_pod_watch(client, namespace, &selector.label_selector(), &watch_cancel)
        }
        None => unwatched,
    };
    let mut pods_alive = sources.pods.is_some();
    let (gitlab_tx, mut gitlab_rx) = watch::channel(match sources.gitlab {
        Some(_) => GitlabView::Pending,
        None => GitlabView::Known(Vec::new()),
    });
    let poller = async {
        match sources.gitlab {
            Some((access, runner_id)) => {
                poll_running_jobs(access, runner_id, deadline, cancel, &gitlab_tx).await
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(poller);
    let mut last_reported: Option<Vec<String>> = None;
    let mut next_reminder = Instant::now() + PROGRESS_EVERY;
    loop {
        let (work, complete) = current_work(&gitlab_rx.borrow(), &pods_rx.borrow())?;
        if complete && work.is_idle() {
            if last_reported
                .as_ref()
                .is_some_and(|lines| !lines.is_empty())
            {
                tracing::info!("drain: the last running job finished");
            }
            return Ok(WaitOutcome::Idle {
                waited: started.elapsed(),
            });
        }
        let lines = work.lines();
        let now = Instant::now();
        if complete && (last_reported.as_ref() != Some(&lines) || now >= next_reminder) {
            report_progress(&lines, deadline.saturating_duration_since(now));
            last_reported = Some(lines);
            next_reminder = now + PROGRESS_EVERY;
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(WaitFailure::Cancelled),
            () = tokio::time::sleep_until(deadline) => {
                let (still_running, _) = current_work(&gitlab_rx.borrow(), &pods_rx.borrow())?;
                return Ok(WaitOutcome::TimedOut { still_running });
            }
            result = &mut poller => {
                let Err(error) = result;
                if matches!(error, GitlabError::DeadlineExceeded { .. }) {
                    let (still_running, _) = current_work(&gitlab_rx.borrow(), &pods_rx.borrow())?;
                    return Ok(WaitOutcome::TimedOut { still_running });
                }
                if matches!(error, GitlabError::Cancelled { .. }) {
                    return Err(WaitFailure::Cancelled);
                }
                return Err(WaitFailure::Gitlab(error));
            }
            _ = gitlab_rx.changed() => {}
            changed = pods_rx.changed(), if pods_alive => {
                if changed.is_err() {
                    tracing::warn!("drain: the job pod watch stopped; relying on the last state seen");
                    pods_alive = false;
                }
            }
            () = tokio::time::sleep_until(next_reminder) => {}
        }
    }
}

/// The running work both sources report, and whether both have reported at least once.
fn current_work(gitlab: &GitlabView, pods: &PodView) -> Result<(RunningWork, bool), WaitFailure> {
    let (pods, pods_known) = match pods {
        PodView::Starting => (Vec::new(), false),
        PodView::Known(all) => (running_job_pods(all.values()), true),
        PodView::Failed(message) => return Err(WaitFailure::Pods(message.clone())),
    };
    let (gitlab_jobs, gitlab_known) = match gitlab {
        GitlabView::Pending => (Vec::new(), false),
        GitlabView::Known(jobs) => (jobs.clone(), true),
    };
    Ok((
        RunningWork { gitlab_jobs, pods },
        pods_known && gitlab_known,
    ))
}

fn report_progress(lines: &[String], left: Duration) {
    if lines.is_empty() {
        return;
    }
    tracing::info!(
        running = lines.len(),
        jobs = %lines.join("; "),
        time_left = %humanize(left),
        "drain: waiting for {} running job(s) to finish ({} left): {}",
        lines.len(),
        humanize(left),
        lines.join("; ")
    );
}

/// Lists the runner's running jobs until a final error; publishes each listing. A runner that
/// disappears from GitLab (404) has no jobs.
async fn poll_running_jobs(
    access: &GitlabAccess,
    runner_id: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    sender: &watch::Sender<GitlabView>,
) -> Result<Infallible, GitlabError> {
    let mut interval = POLL_MIN;
    let mut last: Option<BTreeSet<u64>> = None;
    loop {
        let jobs = match retry(&access.retry, Some(deadline), cancel, || {
            access.client.running_jobs(runner_id)
        })
        .await
        {
            Ok(jobs) => jobs,
            Err(error) if error.is_not_found() => {
                tracing::info!(runner_id, "drain: the runner no longer exists in GitLab");
                Vec::new()
            }
            Err(error) => return Err(error),
        };
        let ids: BTreeSet<u64> = jobs.iter().map(|job| job.id).collect();
        if last.as_ref() == Some(&ids) {
            interval = (interval.mul_f64(1.5)).min(POLL_MAX);
        } else {
            interval = POLL_MIN;
        }
        last = Some(ids);
        sender.send_replace(GitlabView::Known(jobs));
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(GitlabError::Cancelled { last: None }),
            () = tokio::time::sleep(interval) => {}
        }
    }
}
