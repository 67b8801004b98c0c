//! [`wait_for_no_running_jobs`] against jobs that finish, stay, and fail to be listed.

use std::time::Duration;

use gitlab_runner_api::{
    CancellationToken, GitlabClient, GitlabError, PollPolicy, WaitOutcome, wait_for_no_running_jobs,
};
use gitlab_test_server::{Fault, FaultRule, NewJob};
use tokio::time::Instant;

use crate::world::{ADMIN, World, cancelled_after, fast_policy, jobs_path, status_fault};

fn poll_policy() -> PollPolicy {
    PollPolicy {
        retry: fast_policy(),
        ..PollPolicy::default()
    }
}

/// Waits with [`poll_policy`] for `runner_id` to have no running jobs, ignoring what the
/// polls see on the way.
async fn wait_until(
    client: &GitlabClient,
    runner_id: u64,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<WaitOutcome, GitlabError> {
    wait_for_no_running_jobs(client, runner_id, deadline, cancel, &poll_policy(), |_| {}).await
}

#[tokio::test]
async fn returns_soon_after_the_last_job_finishes() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let short = NewJob::running(1, "short").finishing_after(300);
    world.start_job(runner.id, &short).await;
    let long = NewJob::running(2, "long").finishing_after(900);
    let long = world.start_job(runner.id, &long).await;
    let client = world.client(ADMIN);
    let started = Instant::now();
    let mut changes: Vec<Vec<u64>> = Vec::new();
    let outcome = wait_for_no_running_jobs(
        &client,
        runner.id,
        started + Duration::from_secs(10),
        &CancellationToken::new(),
        &poll_policy(),
        |jobs| changes.push(jobs.iter().map(|job| job.id).collect()),
    )
    .await
    .unwrap();
    let waited = started.elapsed();
    assert!(
        matches!(outcome, WaitOutcome::Idle { polls } if polls >= 2),
        "{outcome:?}"
    );
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    // Polls are at most 1 s apart: the end is noticed within the 2 s drain target.
    assert!(waited < Duration::from_millis(900 + 2000), "{waited:?}");
    assert_eq!(changes.first().map(Vec::len), Some(2));
    assert!(changes.contains(&vec![long.id]), "{changes:?}");
    assert_eq!(changes.last(), Some(&Vec::new()));
}

#[tokio::test]
async fn deadline_reports_the_jobs_still_running() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let stuck = world
        .start_job(runner.id, &NewJob::running(1, "stuck"))
        .await;
    let client = world.client(ADMIN);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(700);
    let outcome = wait_until(&client, runner.id, deadline, &CancellationToken::new())
        .await
        .unwrap();
    match outcome {
        WaitOutcome::TimedOut { still_running } => {
            assert_eq!(still_running.len(), 1);
            assert_eq!(still_running[0].id, stuck.id);
            assert_eq!(
                still_running[0].summary(),
                format!("#{} stuck (group/project-1)", stuck.id)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_millis(2000),
        "{waited:?}"
    );
}

#[tokio::test]
async fn polls_survive_faults_and_auth_failures_stop_them() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let finishing = NewJob::running(1, "job").finishing_after(400);
    world.start_job(runner.id, &finishing).await;
    let jobs_path = jobs_path(runner.id);
    world
        .inject(&FaultRule::new("GET", &jobs_path, 1, status_fault(500)))
        .await;
    world
        .inject(&FaultRule::new("GET", &jobs_path, 1, Fault::DropConnection))
        .await;
    let client = world.client(ADMIN);
    let deadline = Instant::now() + Duration::from_secs(10);
    let outcome = wait_until(&client, runner.id, deadline, &CancellationToken::new())
        .await
        .unwrap();
    assert!(matches!(outcome, WaitOutcome::Idle { .. }));

    world
        .start_job(runner.id, &NewJob::running(1, "other"))
        .await;
    let revoked = world.client("glpat-revoked");
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = wait_until(&revoked, runner.id, deadline, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitlabError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn cancellation_ends_the_wait() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    world
        .start_job(runner.id, &NewJob::running(1, "forever"))
        .await;
    let client = world.client(ADMIN);
    let cancel = cancelled_after(Duration::from_millis(400));
    let deadline = Instant::now() + Duration::from_secs(30);
    let error = wait_until(&client, runner.id, deadline, &cancel)
        .await
        .unwrap_err();
    assert!(matches!(error, GitlabError::Cancelled { .. }), "{error:?}");
}
