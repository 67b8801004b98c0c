use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::{ADMIN, DEV, body, dev_runner, header, http, server};
use gitlab_test_server::{Fault, FaultRule, NewRunner, Seed, TestServer, TokenSpec};

#[tokio::test]
async fn status_fault_answers_then_runs_out() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let path = format!("/api/v4/runners/{}", runner.id);
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            &path,
            2,
            Fault::Status {
                code: 502,
                body: None,
            },
        ))
        .await
        .unwrap();
    let url = format!("{}{path}", server.url());
    for _ in 0..2 {
        let response = http()
            .get(&url)
            .header("PRIVATE-TOKEN", ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(body(response).await, json!({"message": "502 Bad Gateway"}));
    }
    let healthy = http()
        .get(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);
    assert!(server.admin().faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn fault_matches_only_its_method_and_path() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "PUT",
            "/api/v4/runners/*",
            1,
            Fault::Status {
                code: 500,
                body: Some("{\"message\":\"boom\"}".into()),
            },
        ))
        .await
        .unwrap();
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let get = http()
        .get(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    let put = http()
        .put(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body(put).await, json!({"message": "boom"}));
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
async fn rate_limit_fault_sends_retry_after() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}/jobs", runner.id),
            1,
            Fault::RateLimit {
                retry_after_secs: 3,
            },
        ))
        .await
        .unwrap();
    let response = http()
        .get(format!("{}/runners/{}/jobs", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after"), "3");
    assert_eq!(response.text().await.unwrap(), "Retry later\n");
}

#[tokio::test]
async fn latency_fault_delays_a_normal_answer() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    server
        .admin()
        .add_fault(&FaultRule::new(
            "GET",
            format!("/api/v4/runners/{}", runner.id),
            1,
            Fault::Latency { millis: 300 },
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let response = http()
        .get(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let log = server.admin().requests().await.unwrap();
    assert!(log[0].duration_ms >= 300, "{log:?}");
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error_then_service_resumes() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let path = format!("/api/v4/runners/{}", runner.id);
    server
        .admin()
        .add_fault(&FaultRule::new("PUT", &path, 1, Fault::DropConnection))
        .await
        .unwrap();
    let url = format!("{}{path}", server.url());
    let client = http();
    let dropped = client
        .put(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[("paused", "true")])
        .send()
        .await;
    let error = dropped.expect_err("the connection should have been dropped");
    assert!(!error.is_status(), "{error}");
    assert!(
        !server
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let retried = client
        .put(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::OK);
    let log = server.admin().requests().await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault, Some(Fault::DropConnection));
    assert_eq!(log[1].status, Some(200));
}

#[tokio::test]
async fn request_log_records_order_and_token_names_not_values() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let client = http();
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    client
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    client
        .put(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    client
        .get(format!(
            "{}/runners/{}/jobs?status=running",
            server.api_url(),
            runner.id
        ))
        .header("PRIVATE-TOKEN", "glpat-wrong")
        .send()
        .await
        .unwrap();
    client
        .post(format!("{}/runners/verify", server.api_url()))
        .form(&[("token", runner.token.as_str())])
        .send()
        .await
        .unwrap();
    let log = server.admin().requests().await.unwrap();
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
    let runner_path = format!("/api/v4/runners/{}", runner.id);
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
    server.admin().clear_requests().await.unwrap();
    assert!(server.admin().requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let seeded = NewRunner {
        id: Some(7),
        token: Some("glrt-t1_seededseededseeded".into()),
        ..NewRunner::default()
    };
    let server = TestServer::start_with(
        "127.0.0.1:0",
        Seed {
            tokens: vec![TokenSpec::admin("admin", ADMIN)],
            projects: Vec::new(),
            runners: vec![seeded],
        },
    )
    .await
    .unwrap();
    let admin = server.admin();
    let extra = admin.create_runner(&NewRunner::default()).await.unwrap();
    admin
        .add_fault(&FaultRule::new(
            "GET",
            "/api/v4/runners/7",
            1,
            Fault::DropConnection,
        ))
        .await
        .unwrap();
    admin.reset().await.unwrap();
    assert!(admin.runner(extra.id).await.unwrap().is_none());
    assert_eq!(
        admin.runner(7).await.unwrap().unwrap().token,
        "glrt-t1_seededseededseeded"
    );
    assert!(admin.faults().await.unwrap().is_empty());
    let response = http()
        .get(format!("{}/runners/7", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn test_surface_reports_conflicts_and_unknowns() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
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
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = http();
            let response = if n % 2 == 0 {
                client.get(&url).header("PRIVATE-TOKEN", ADMIN).send().await
            } else {
                client
                    .put(&url)
                    .header("PRIVATE-TOKEN", DEV)
                    .form(&[("paused", if n % 4 == 1 { "true" } else { "false" })])
                    .send()
                    .await
            };
            response.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let log = server.admin().requests().await.unwrap();
    assert_eq!(log.len(), 40);
    let mut seqs: Vec<u64> = log.iter().map(|entry| entry.seq).collect();
    seqs.dedup();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn runner_deleted_out_of_band_is_gone_from_the_api() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    assert!(server.admin().delete_runner(runner.id).await.unwrap());
    assert!(!server.admin().delete_runner(runner.id).await.unwrap());
    let response = http()
        .get(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(server.admin().requests().await.unwrap().len() == 1);
}

#[tokio::test]
async fn fault_can_start_after_some_requests_pass() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let path = format!("/api/v4/runners/{}/jobs", runner.id);
    server
        .admin()
        .add_fault(
            &FaultRule::new(
                "GET",
                &path,
                1,
                Fault::Status {
                    code: 503,
                    body: None,
                },
            )
            .after(1),
        )
        .await
        .unwrap();
    let url = format!("{}{path}", server.url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http()
            .get(&url)
            .header("PRIVATE-TOKEN", ADMIN)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 503, 200]);
}

#[tokio::test]
async fn dropped_response_applies_the_request_but_loses_the_answer() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let path = format!("/api/v4/runners/{}", runner.id);
    server
        .admin()
        .add_fault(&FaultRule::new("DELETE", &path, 1, Fault::DropResponse))
        .await
        .unwrap();
    let lost = http()
        .delete(format!("{}{path}", server.url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await;
    assert!(lost.is_err(), "the answer should have been lost");
    assert!(server.admin().runner(runner.id).await.unwrap().is_none());
    let log = server.admin().requests().await.unwrap();
    assert_eq!(log[0].status, Some(204));
    assert_eq!(log[0].fault, Some(Fault::DropResponse));
}
