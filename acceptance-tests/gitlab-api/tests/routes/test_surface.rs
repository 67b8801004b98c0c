use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, DEV, World, runner_path};
use gitlab_test_server::{Fault, FaultRule, NewRunner, Seed, TokenSpec};

/// A fault answering `code` with GitLab's default body for it.
fn status_fault(code: u16) -> Fault {
    Fault::Status { code, body: None }
}

#[tokio::test]
async fn status_fault_answers_then_runs_out() {
    let world = World::start().await;
    let path = runner_path(world.dev_runner().await.id);
    let rule = FaultRule::new("GET", format!("/api/v4{path}"), 2, status_fault(502));
    world.inject(&rule).await;
    for attempt in 1..=2 {
        let reply = world.get_as(ADMIN, &path).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "attempt {attempt}");
        assert_eq!(reply.json(), json!({"message": "502 Bad Gateway"}));
    }
    let healthy = world.get_as(ADMIN, &path).await;
    assert_eq!(healthy.status, StatusCode::OK);
    assert!(world.admin().faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn fault_matches_only_its_method_and_path() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let boom = Fault::Status {
        code: 500,
        body: Some("{\"message\":\"boom\"}".into()),
    };
    world
        .inject(&FaultRule::new("PUT", "/api/v4/runners/*", 1, boom))
        .await;
    let path = runner_path(runner.id);
    let get = world.get_as(ADMIN, &path).await;
    assert_eq!(get.status, StatusCode::OK);
    let put = world.put_form_as(ADMIN, &path, &[("paused", "true")]).await;
    put.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "boom"}),
    );
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn rate_limit_fault_sends_retry_after() {
    let world = World::start().await;
    let path = format!("{}/jobs", runner_path(world.dev_runner().await.id));
    let rate_limit = Fault::RateLimit {
        retry_after_secs: 3,
    };
    world
        .inject(&FaultRule::new(
            "GET",
            format!("/api/v4{path}"),
            1,
            rate_limit,
        ))
        .await;
    let reply = world.get_as(ADMIN, &path).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), "3");
    assert_eq!(reply.text(), "Retry later\n");
}

#[tokio::test]
async fn latency_fault_delays_a_normal_answer() {
    let world = World::start().await;
    let path = runner_path(world.dev_runner().await.id);
    let latency = Fault::Latency { millis: 300 };
    world
        .inject(&FaultRule::new("GET", format!("/api/v4{path}"), 1, latency))
        .await;
    let started = Instant::now();
    let reply = world.get_as(ADMIN, &path).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let log = world.request_log().await;
    assert!(log[0].duration_ms >= 300, "{log:?}");
}

#[tokio::test]
async fn redirect_fault_answers_with_location_and_does_nothing() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let redirect = Fault::Redirect {
        code: 307,
        location: format!("/api/v4{path}"),
    };
    world
        .inject(&FaultRule::new(
            "PUT",
            format!("/api/v4{path}"),
            1,
            redirect.clone(),
        ))
        .await;
    // The route tests' client follows a same-origin 307 and replays the PUT.
    let reply = world
        .put(&path)
        .private_token(ADMIN)
        .form(&[("paused", "true")])
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let log = world.request_log().await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].status, Some(307));
    assert_eq!(log[0].fault, Some(redirect));
    assert_eq!(log[1].status, Some(200));
    assert_eq!(log[1].body.as_deref(), Some("paused=true"));
    assert!(world.is_paused(runner.id).await);
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error_then_service_resumes() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let rule = FaultRule::new("PUT", format!("/api/v4{path}"), 1, Fault::DropConnection);
    world.inject(&rule).await;
    let pause = || {
        world
            .put(&path)
            .private_token(ADMIN)
            .form(&[("paused", "true")])
    };
    let dropped = pause().try_send().await;
    let error = dropped.expect_err("the connection should have been dropped");
    assert!(!error.is_status(), "{error}");
    assert!(!world.is_paused(runner.id).await);
    let retried = pause().send().await;
    assert_eq!(retried.status, StatusCode::OK);
    let log = world.request_log().await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault, Some(Fault::DropConnection));
    assert_eq!(log[1].status, Some(200));
}

#[tokio::test]
async fn request_log_records_order_and_token_names_not_values() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    world.get_as(DEV, &path).await;
    world.put_form_as(ADMIN, &path, &[("paused", "true")]).await;
    world
        .get_as("glpat-wrong", &format!("{path}/jobs?status=running"))
        .await;
    world
        .post("/runners/verify")
        .form(&[("token", runner.token.as_str())])
        .send()
        .await;
    let log = world.request_log().await;
    let summary: Vec<_> = log
        .iter()
        .map(|entry| {
            (
                entry.method.as_str(),
                entry.path.clone(),
                entry.query.clone(),
                entry.status,
                entry.token_name.clone(),
            )
        })
        .collect();
    let runner_path = format!("/api/v4{path}");
    assert_eq!(
        summary,
        vec![
            (
                "GET",
                runner_path.clone(),
                None,
                Some(200),
                Some("dev".into())
            ),
            (
                "PUT",
                runner_path.clone(),
                None,
                Some(200),
                Some("admin".into())
            ),
            (
                "GET",
                format!("{runner_path}/jobs"),
                Some("status=running".into()),
                Some(401),
                Some("<unknown>".into())
            ),
            (
                "POST",
                "/api/v4/runners/verify".into(),
                None,
                Some(200),
                None
            ),
        ]
    );
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(log[1].body.as_deref(), Some("paused=true"));
    assert_eq!(log[3].body.as_deref(), Some("token=%3Credacted%3E"));
    assert_eq!(log[0].body, None);
    let raw = serde_json::to_string(&log).unwrap();
    assert!(!raw.contains(ADMIN) && !raw.contains(DEV) && !raw.contains(&runner.token));
    world.admin().clear_requests().await.unwrap();
    assert!(world.request_log().await.is_empty());
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let seeded = NewRunner {
        id: Some(7),
        token: Some("glrt-t1_seededseededseeded".into()),
        ..NewRunner::default()
    };
    let world = World::seeded(Seed {
        tokens: vec![TokenSpec::admin("admin", ADMIN)],
        projects: Vec::new(),
        runners: vec![seeded],
    })
    .await;
    let admin = world.admin();
    let extra = world.create_runner(&NewRunner::default()).await;
    let rule = FaultRule::new("GET", "/api/v4/runners/7", 1, Fault::DropConnection);
    world.inject(&rule).await;
    admin.reset().await.unwrap();
    assert!(!world.runner_exists(extra.id).await);
    assert_eq!(
        admin.runner(7).await.unwrap().unwrap().token,
        "glrt-t1_seededseededseeded"
    );
    assert!(admin.faults().await.unwrap().is_empty());
    let reply = world.get_as(ADMIN, "/runners/7").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn test_surface_reports_conflicts_and_unknowns() {
    let world = World::start().await;
    let admin = world.admin();
    let runner = world.dev_runner().await;
    let duplicate = admin
        .create_runner(&NewRunner {
            id: Some(runner.id),
            ..NewRunner::default()
        })
        .await;
    assert!(duplicate.unwrap_err().to_string().contains("409"));
    let unknown_owner = admin
        .create_runner(&NewRunner {
            owners: vec!["nobody".into()],
            ..NewRunner::default()
        })
        .await;
    assert!(unknown_owner.unwrap_err().to_string().contains("404"));
    assert!(admin.set_token_projects("nobody", &[1]).await.is_err());
    assert!(admin.job(1).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_are_all_served_and_logged() {
    let world = World::start().await;
    let path = runner_path(world.dev_runner().await.id);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let request = if n % 2 == 0 {
            world.get(&path).private_token(ADMIN)
        } else {
            let paused = if n % 4 == 1 { "true" } else { "false" };
            world
                .put(&path)
                .private_token(DEV)
                .form(&[("paused", paused)])
        };
        tasks.push(tokio::spawn(async move { request.send().await.status }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let log = world.request_log().await;
    assert_eq!(log.len(), 40);
    let mut seqs: Vec<u64> = log.iter().map(|entry| entry.seq).collect();
    seqs.dedup();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn runner_deleted_out_of_band_is_gone_from_the_api() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    assert!(world.admin().delete_runner(runner.id).await.unwrap());
    assert!(!world.admin().delete_runner(runner.id).await.unwrap());
    let path = runner_path(runner.id);
    let reply = world.get_as(ADMIN, &path).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(world.request_log().await.len() == 1);
}

#[tokio::test]
async fn fault_can_start_after_some_requests_pass() {
    let world = World::start().await;
    let path = format!("{}/jobs", runner_path(world.dev_runner().await.id));
    let rule = FaultRule::new("GET", format!("/api/v4{path}"), 1, status_fault(503));
    world.inject(&rule.after(1)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = world.get_as(ADMIN, &path).await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, vec![200, 503, 200]);
}

#[tokio::test]
async fn dropped_response_applies_the_request_but_loses_the_answer() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let rule = FaultRule::new("DELETE", format!("/api/v4{path}"), 1, Fault::DropResponse);
    world.inject(&rule).await;
    let lost = world.delete(&path).private_token(ADMIN).try_send().await;
    assert!(lost.is_err(), "the answer should have been lost");
    assert!(!world.runner_exists(runner.id).await);
    let log = world.request_log().await;
    assert_eq!(log[0].status, Some(204));
    assert_eq!(log[0].fault, Some(Fault::DropResponse));
}
