//! The client against the GitLab API test server, over real HTTP, including injected faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gitlab_runner_api::{
    CancellationToken, ClientConfig, CreateRunner, Deletion, ExposeSecret, GitlabClient,
    GitlabError, RetryPolicy, RunnerScope, SecretString, retry,
};
use gitlab_test_server::{
    Fault, FaultRule, NewJob, NewManager, NewRunner, RunnerRecord, Scope, TestServer, TokenSpec,
};
use tokio::time::Instant;

const ADMIN: &str = "glpat-admin-token-value";
const DEV: &str = "glpat-dev-token-value";
const READER: &str = "glpat-reader-token-value";

async fn server() -> TestServer {
    let server = TestServer::start().await.unwrap();
    let admin = server.admin();
    admin
        .add_token(&TokenSpec::admin("admin", ADMIN))
        .await
        .unwrap();
    admin
        .add_token(&TokenSpec::user("dev", DEV, &[Scope::ManageRunner]))
        .await
        .unwrap();
    admin
        .add_token(&TokenSpec::user("reader", READER, &[Scope::ReadApi]))
        .await
        .unwrap();
    server
}

async fn runner(server: &TestServer) -> RunnerRecord {
    server
        .admin()
        .create_runner(&NewRunner {
            description: "k8s".into(),
            owners: vec!["dev".into(), "reader".into()],
            ..NewRunner::default()
        })
        .await
        .unwrap()
}

fn client(server: &TestServer, token: &str) -> GitlabClient {
    GitlabClient::new(ClientConfig::new(server.url(), SecretString::from(token))).unwrap()
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

fn assert_no_secret(text: &str) {
    for secret in [ADMIN, DEV, READER] {
        assert!(!text.contains(secret), "secret leaked in: {text}");
    }
}

#[tokio::test]
async fn verify_finds_the_runner_id_from_its_token() {
    let server = server().await;
    let runner = runner(&server).await;
    let identity = client(&server, ADMIN)
        .verify_runner(&runner.token)
        .await
        .unwrap();
    assert_eq!(identity.id, runner.id);
    assert_eq!(identity.token_expires_at, None);
    let log = server.admin().requests().await.unwrap();
    assert_eq!(log[0].path, "/api/v4/runners/verify");
    assert_eq!(
        log[0].token_name, None,
        "verify must not send the access token"
    );
    assert!(server.admin().runner(runner.id).await.unwrap().is_some());
}

#[tokio::test]
async fn verify_with_an_invalid_runner_token_says_so() {
    let server = server().await;
    let error = client(&server, ADMIN)
        .verify_runner("glrt-t1_doesnotexist")
        .await
        .unwrap_err();
    assert!(matches!(error, GitlabError::Forbidden { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("runner authentication token is not valid"),
        "{text}"
    );
    assert!(!text.contains("glrt-t1_doesnotexist"), "{text}");
}

#[tokio::test]
async fn get_runner_reads_details_and_find_runner_maps_404_to_none() {
    let server = server().await;
    let runner = runner(&server).await;
    let client = client(&server, DEV);
    let details = client.get_runner(runner.id).await.unwrap();
    assert_eq!(details.id, runner.id);
    assert_eq!(details.description.as_deref(), Some("k8s"));
    assert!(!details.paused);
    assert_eq!(details.status.as_deref(), Some("never_contacted"));
    assert_eq!(details.runner_type.as_deref(), Some("instance_type"));
    let admin_client = self::client(&server, ADMIN);
    assert!(admin_client.find_runner(987_654).await.unwrap().is_none());
    let error = admin_client.get_runner(987_654).await.unwrap_err();
    assert!(error.is_not_found());
}

#[tokio::test]
async fn pause_and_resume_change_the_runner() {
    let server = server().await;
    let runner = runner(&server).await;
    let client = client(&server, DEV);
    let paused = client.set_paused(runner.id, true).await.unwrap();
    assert!(paused.paused);
    assert!(
        server
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let resumed = client.set_paused(runner.id, false).await.unwrap();
    assert!(!resumed.paused);
    assert!(
        !server
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let log = server.admin().requests().await.unwrap();
    let bodies: Vec<Option<&str>> = log.iter().map(|entry| entry.body.as_deref()).collect();
    assert_eq!(
        bodies,
        vec![Some(r#"{"paused":true}"#), Some(r#"{"paused":false}"#)]
    );
    assert!(
        log.iter()
            .all(|entry| entry.method == "PUT" && entry.token_name.as_deref() == Some("dev"))
    );
}

#[tokio::test]
async fn running_jobs_follows_every_page() {
    let server = server().await;
    let runner = runner(&server).await;
    let admin = server.admin();
    let mut running = Vec::new();
    for n in 0..230 {
        let job = admin
            .start_job(runner.id, &NewJob::running(1 + n % 3, format!("job-{n}")))
            .await
            .unwrap();
        running.push(job.id);
    }
    let finished = admin
        .start_job(runner.id, &NewJob::running(1, "done"))
        .await
        .unwrap();
    admin.finish_job(finished.id).await.unwrap();
    admin.clear_requests().await.unwrap();

    let jobs = client(&server, ADMIN)
        .running_jobs(runner.id)
        .await
        .unwrap();
    let ids: Vec<u64> = jobs.iter().map(|job| job.id).collect();
    assert_eq!(ids, running);
    assert!(jobs.iter().all(|job| job.status == "running"));
    assert!(jobs[0].web_url.as_deref().unwrap().contains("/-/jobs/"));
    let pages: Vec<String> = admin
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.query.unwrap())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[0].ends_with("per_page=100&page=1"));
    assert!(pages[2].ends_with("per_page=100&page=3"));
}

#[tokio::test]
async fn running_jobs_of_a_non_admin_token_exclude_invisible_projects() {
    let server = server().await;
    let runner = runner(&server).await;
    let admin = server.admin();
    let mine = admin
        .start_job(runner.id, &NewJob::running(10, "mine"))
        .await
        .unwrap();
    admin
        .start_job(runner.id, &NewJob::running(20, "hidden"))
        .await
        .unwrap();
    admin.set_token_projects("dev", &[10]).await.unwrap();
    let as_dev = client(&server, DEV).running_jobs(runner.id).await.unwrap();
    assert_eq!(
        as_dev.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    let as_admin = client(&server, ADMIN)
        .running_jobs(runner.id)
        .await
        .unwrap();
    assert_eq!(as_admin.len(), 2);
}

#[tokio::test]
async fn current_user_tells_administrators_apart() {
    let server = server().await;
    let admin = client(&server, ADMIN).current_user().await.unwrap();
    assert!(admin.is_admin);
    assert_eq!(admin.username, "admin");
    let reader = client(&server, READER).current_user().await.unwrap();
    assert!(!reader.is_admin);
    let error = client(&server, DEV).current_user().await.unwrap_err();
    assert!(matches!(error, GitlabError::Forbidden { .. }), "{error:?}");
    assert!(error.to_string().contains("`read_user`"), "{error}");
}

#[tokio::test]
async fn managers_are_listed() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_manager(
            runner.id,
            &NewManager {
                job_execution_status: "active".into(),
                ..NewManager::online("r_abcdef012345")
            },
        )
        .await
        .unwrap();
    let managers = client(&server, READER).managers(runner.id).await.unwrap();
    assert_eq!(managers.len(), 1);
    assert_eq!(managers[0].system_id, "r_abcdef012345");
    assert_eq!(managers[0].status.as_deref(), Some("online"));
    assert!(managers[0].is_executing_jobs());
}

#[tokio::test]
async fn delete_twice_is_deleted_then_already_gone() {
    let server = server().await;
    let runner = runner(&server).await;
    let client = client(&server, DEV);
    assert_eq!(
        client.delete_runner(runner.id).await.unwrap(),
        Deletion::Deleted
    );
    assert!(server.admin().runner(runner.id).await.unwrap().is_none());
    let admin = self::client(&server, ADMIN);
    assert_eq!(
        admin.delete_runner(runner.id).await.unwrap(),
        Deletion::AlreadyGone
    );
}

#[tokio::test]
async fn created_runner_token_verifies() {
    let server = server().await;
    let client = client(&server, ADMIN);
    let created = client
        .create_user_runner(&CreateRunner {
            scope: RunnerScope::Instance,
            description: Some("made by the client".into()),
            tag_list: Some(vec!["k8s".into()]),
            paused: Some(true),
            maximum_timeout: Some(1800),
            ..CreateRunner::default()
        })
        .await
        .unwrap();
    assert!(created.token.expose_secret().starts_with("glrt-"));
    let stored = server.admin().runner(created.id).await.unwrap().unwrap();
    assert_eq!(stored.description, "made by the client");
    assert_eq!(stored.tag_list, vec!["k8s"]);
    assert!(stored.paused);
    assert_eq!(stored.maximum_timeout, Some(1800));
    let identity = client
        .verify_runner(created.token.expose_secret())
        .await
        .unwrap();
    assert_eq!(identity.id, created.id);
}

#[tokio::test]
async fn create_runner_validation_error_is_rejected_with_gitlab_message() {
    let server = server().await;
    let error = client(&server, ADMIN)
        .create_user_runner(&CreateRunner {
            maximum_timeout: Some(60),
            ..CreateRunner::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, GitlabError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("needs to be at least 10 minutes"),
        "{error}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn server_errors_then_success_are_retried() {
    let server = server().await;
    let runner = runner(&server).await;
    let path = format!("/api/v4/runners/{}", runner.id);
    server
        .admin()
        .add_fault(&FaultRule::new(
            "PUT",
            &path,
            2,
            Fault::Status {
                code: 502,
                body: None,
            },
        ))
        .await
        .unwrap();
    let client = client(&server, DEV);
    let paused = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.set_paused(runner.id, true)
    })
    .await
    .unwrap();
    assert!(paused.paused);
    let statuses: Vec<Option<u16>> = server
        .admin()
        .requests()
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(statuses, vec![Some(502), Some(502), Some(200)]);
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}/jobs", runner.id),
            1,
            Fault::RateLimit {
                retry_after_secs: 1,
            },
        ))
        .await
        .unwrap();
    let client = client(&server, ADMIN);
    let started = Instant::now();
    let jobs = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.running_jobs(runner.id)
    })
    .await
    .unwrap();
    assert!(jobs.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let log = server.admin().requests().await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, Some(429));
    assert!(log[1].since_start_ms - log[0].since_start_ms >= 1000);
}

#[tokio::test]
async fn dropped_connection_is_retried() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "PUT",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::DropConnection,
        ))
        .await
        .unwrap();
    let client = client(&server, DEV);
    let first = client.set_paused(runner.id, true).await.unwrap_err();
    assert!(matches!(first, GitlabError::Transport { .. }), "{first:?}");
    assert!(first.is_retryable());
    assert_no_secret(&first.to_string());
    server
        .admin()
        .add_fault(&FaultRule::new(
            "PUT",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::DropConnection,
        ))
        .await
        .unwrap();
    let paused = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.set_paused(runner.id, true)
    })
    .await
    .unwrap();
    assert!(paused.paused);
}

#[tokio::test]
async fn lost_delete_answer_then_retry_finds_the_runner_already_gone() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "DELETE",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::DropResponse,
        ))
        .await
        .unwrap();
    let client = client(&server, DEV);
    let outcome = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.delete_runner(runner.id)
    })
    .await
    .unwrap();
    assert_eq!(outcome, Deletion::AlreadyGone);
    assert!(server.admin().runner(runner.id).await.unwrap().is_none());
    let statuses: Vec<Option<u16>> = server
        .admin()
        .requests()
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(statuses, vec![Some(204), Some(404)]);
}

#[tokio::test]
async fn lost_pause_answer_is_retried_and_pausing_again_is_harmless() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "PUT",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::DropResponse,
        ))
        .await
        .unwrap();
    let client = client(&server, DEV);
    let paused = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.set_paused(runner.id, true)
    })
    .await
    .unwrap();
    assert!(paused.paused);
    assert_eq!(server.admin().requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn slow_answer_times_out_and_is_retried() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::Latency { millis: 1500 },
        ))
        .await
        .unwrap();
    let mut config = ClientConfig::new(server.url(), SecretString::from(ADMIN));
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
    let details = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.get_runner(runner.id)
    })
    .await
    .unwrap();
    assert_eq!(details.id, runner.id);
}

#[tokio::test]
async fn unauthorized_stops_at_once_with_a_clear_message() {
    let server = server().await;
    let runner = runner(&server).await;
    let client = client(&server, "glpat-revoked-token");
    let error = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.set_paused(runner.id, true)
    })
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
    assert_eq!(server.admin().requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn forbidden_stops_at_once_and_names_the_scope_to_add() {
    let server = server().await;
    let runner = runner(&server).await;
    let client = client(&server, READER);
    let error = retry(&fast_policy(), None, &CancellationToken::new(), || {
        client.set_paused(runner.id, true)
    })
    .await
    .unwrap_err();
    assert!(matches!(error, GitlabError::Forbidden { .. }), "{error:?}");
    assert!(error.is_auth_failure());
    let text = error.to_string();
    assert!(text.contains("`manage_runner` or `api` scope"), "{text}");
    assert!(text.contains("Needed scope: api manage_runner"), "{text}");
    assert_no_secret(&text);
    assert_eq!(server.admin().requests().await.unwrap().len(), 1);
    assert!(
        !server
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
}

#[tokio::test]
async fn persistent_outage_ends_at_the_deadline() {
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}/jobs", runner.id),
            1000,
            Fault::Status {
                code: 503,
                body: None,
            },
        ))
        .await
        .unwrap();
    let client = client(&server, ADMIN);
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
    let server = server().await;
    let runner = runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}", runner.id),
            1000,
            Fault::Status {
                code: 500,
                body: None,
            },
        ))
        .await
        .unwrap();
    let client = client(&server, ADMIN);
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        canceller.cancel();
    });
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

mod waiting {
    use super::*;
    use gitlab_runner_api::{PollPolicy, WaitOutcome, wait_for_no_running_jobs};

    fn poll_policy() -> PollPolicy {
        PollPolicy {
            retry: fast_policy(),
            ..PollPolicy::default()
        }
    }

    #[tokio::test]
    async fn returns_soon_after_the_last_job_finishes() {
        let server = server().await;
        let runner = runner(&server).await;
        let admin = server.admin();
        admin
            .start_job(runner.id, &NewJob::running(1, "short").finishing_after(300))
            .await
            .unwrap();
        let long = admin
            .start_job(runner.id, &NewJob::running(2, "long").finishing_after(900))
            .await
            .unwrap();
        let client = client(&server, ADMIN);
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
        let server = server().await;
        let runner = runner(&server).await;
        let stuck = server
            .admin()
            .start_job(runner.id, &NewJob::running(1, "stuck"))
            .await
            .unwrap();
        let client = client(&server, ADMIN);
        let started = Instant::now();
        let outcome = wait_for_no_running_jobs(
            &client,
            runner.id,
            started + Duration::from_millis(700),
            &CancellationToken::new(),
            &poll_policy(),
            |_| {},
        )
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
        let server = server().await;
        let runner = runner(&server).await;
        let admin = server.admin();
        admin
            .start_job(runner.id, &NewJob::running(1, "job").finishing_after(400))
            .await
            .unwrap();
        let jobs_path = format!("/api/v4/runners/{}/jobs", runner.id);
        admin
            .add_fault(&FaultRule::new(
                "GET",
                &jobs_path,
                1,
                Fault::Status {
                    code: 500,
                    body: None,
                },
            ))
            .await
            .unwrap();
        admin
            .add_fault(&FaultRule::new("GET", &jobs_path, 1, Fault::DropConnection))
            .await
            .unwrap();
        let client = client(&server, ADMIN);
        let outcome = wait_for_no_running_jobs(
            &client,
            runner.id,
            Instant::now() + Duration::from_secs(10),
            &CancellationToken::new(),
            &poll_policy(),
            |_| {},
        )
        .await
        .unwrap();
        assert!(matches!(outcome, WaitOutcome::Idle { .. }));

        admin
            .start_job(runner.id, &NewJob::running(1, "other"))
            .await
            .unwrap();
        let revoked = self::client(&server, "glpat-revoked");
        let started = Instant::now();
        let error = wait_for_no_running_jobs(
            &revoked,
            runner.id,
            Instant::now() + Duration::from_secs(10),
            &CancellationToken::new(),
            &poll_policy(),
            |_| {},
        )
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
        let server = server().await;
        let runner = runner(&server).await;
        server
            .admin()
            .start_job(runner.id, &NewJob::running(1, "forever"))
            .await
            .unwrap();
        let client = client(&server, ADMIN);
        let cancel = CancellationToken::new();
        let canceller = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            canceller.cancel();
        });
        let error = wait_for_no_running_jobs(
            &client,
            runner.id,
            Instant::now() + Duration::from_secs(30),
            &cancel,
            &poll_policy(),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(error, GitlabError::Cancelled { .. }), "{error:?}");
    }
}
