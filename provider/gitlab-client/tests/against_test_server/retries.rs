//! Faults the server injects, and how [`retry`] and the errors deal with them.

use std::time::Duration;

use gitlab_runner_api::{CancellationToken, Deletion, GitlabClient, GitlabError, retry};
use gitlab_test_server::{Fault, FaultRule};
use tokio::time::Instant;

use crate::world::{
    ADMIN, DEV, READER, World, assert_no_secret, cancelled_after, fast_policy, jobs_path,
    retry_quickly, runner_path, status_fault,
};

#[tokio::test]
async fn server_errors_then_success_are_retried() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    world
        .inject(&FaultRule::new("PUT", path, 2, status_fault(502)))
        .await;
    let client = world.client(DEV);
    let paused = retry_quickly(|| client.set_paused(runner.id, true))
        .await
        .unwrap();
    assert!(paused.paused);
    assert_eq!(
        world.logged_statuses().await,
        vec![Some(502), Some(502), Some(200)]
    );
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let rate_limit = Fault::RateLimit {
        retry_after_secs: 1,
    };
    let rule = FaultRule::new("GET", jobs_path(runner.id), 1, rate_limit);
    world.inject(&rule).await;
    let client = world.client(ADMIN);
    let started = Instant::now();
    let jobs = retry_quickly(|| client.running_jobs(runner.id))
        .await
        .unwrap();
    assert!(jobs.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let log = world.request_log().await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, Some(429));
    assert!(log[1].since_start_ms - log[0].since_start_ms >= 1000);
}

#[tokio::test]
async fn dropped_connection_is_retried() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let drop_next_pause = FaultRule::new("PUT", runner_path(runner.id), 1, Fault::DropConnection);
    world.inject(&drop_next_pause).await;
    let client = world.client(DEV);
    let first = client.set_paused(runner.id, true).await.unwrap_err();
    assert!(matches!(first, GitlabError::Transport { .. }), "{first:?}");
    assert!(first.is_retryable());
    assert_no_secret(&first.to_string());
    world.inject(&drop_next_pause).await;
    let paused = retry_quickly(|| client.set_paused(runner.id, true))
        .await
        .unwrap();
    assert!(paused.paused);
}

#[tokio::test]
async fn lost_delete_answer_then_retry_finds_the_runner_already_gone() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let rule = FaultRule::new("DELETE", runner_path(runner.id), 1, Fault::DropResponse);
    world.inject(&rule).await;
    let client = world.client(DEV);
    let outcome = retry_quickly(|| client.delete_runner(runner.id))
        .await
        .unwrap();
    assert_eq!(outcome, Deletion::AlreadyGone);
    assert!(!world.runner_exists(runner.id).await);
    assert_eq!(world.logged_statuses().await, vec![Some(204), Some(404)]);
}

#[tokio::test]
async fn lost_pause_answer_is_retried_and_pausing_again_is_harmless() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let rule = FaultRule::new("PUT", runner_path(runner.id), 1, Fault::DropResponse);
    world.inject(&rule).await;
    let client = world.client(DEV);
    let paused = retry_quickly(|| client.set_paused(runner.id, true))
        .await
        .unwrap();
    assert!(paused.paused);
    assert_eq!(world.request_log().await.len(), 2);
}

#[tokio::test]
async fn slow_answer_times_out_and_is_retried() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let latency = Fault::Latency { millis: 1500 };
    world
        .inject(&FaultRule::new("GET", runner_path(runner.id), 1, latency))
        .await;
    let mut config = world.client_config(ADMIN);
    config.request_timeout = Duration::from_millis(300);
    let client = GitlabClient::new(config).unwrap();
    let first = client.get_runner(runner.id).await.unwrap_err();
    assert!(
        matches!(
            first,
            GitlabError::Transport {
                timed_out: true,
                ..
            }
        ),
        "{first:?}"
    );
    let details = retry_quickly(|| client.get_runner(runner.id))
        .await
        .unwrap();
    assert_eq!(details.id, runner.id);
}

#[tokio::test]
async fn unauthorized_stops_at_once_with_a_clear_message() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let client = world.client("glpat-revoked-token");
    let error = retry_quickly(|| client.set_paused(runner.id, true))
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitlabError::Unauthorized { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(
        text.contains("GitLab token is invalid, expired or revoked"),
        "{text}"
    );
    assert!(!text.contains("glpat-revoked-token"), "{text}");
    assert_eq!(world.request_log().await.len(), 1);
}

#[tokio::test]
async fn forbidden_stops_at_once_and_names_the_scope_to_add() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let client = world.client(READER);
    let error = retry_quickly(|| client.set_paused(runner.id, true))
        .await
        .unwrap_err();
    assert!(matches!(error, GitlabError::Forbidden { .. }), "{error:?}");
    assert!(error.is_auth_failure());
    let text = error.to_string();
    assert!(text.contains("`manage_runner` or `api` scope"), "{text}");
    assert!(text.contains("Needed scope: api manage_runner"), "{text}");
    assert_no_secret(&text);
    assert_eq!(world.request_log().await.len(), 1);
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn persistent_outage_ends_at_the_deadline() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let outage = FaultRule::new("GET", jobs_path(runner.id), 1000, status_fault(503));
    world.inject(&outage).await;
    let client = world.client(ADMIN);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(600);
    let error = retry(
        &fast_policy(),
        Some(deadline),
        &CancellationToken::new(),
        || client.running_jobs(runner.id),
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    match &error {
        GitlabError::DeadlineExceeded { attempts, last } => {
            assert!(*attempts >= 2, "{attempts}");
            assert!(matches!(**last, GitlabError::Server { status: 503, .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(error.to_string().contains("503"), "{error}");
}

#[tokio::test]
async fn cancellation_stops_retrying() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let outage = FaultRule::new("GET", runner_path(runner.id), 1000, status_fault(500));
    world.inject(&outage).await;
    let client = world.client(ADMIN);
    let cancel = cancelled_after(Duration::from_millis(150));
    let error = retry(&fast_policy(), None, &cancel, || {
        client.get_runner(runner.id)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(error, GitlabError::Cancelled { last: Some(_) }),
        "{error:?}"
    );
}
