use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{ADMIN, DEV, body, dev_runner, header, http, server};
use gitlab_test_server::{JobStatus, NewJob, Project};

fn ids(jobs: &Value) -> Vec<u64> {
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn job_json_has_gitlab_fields() {
    let server = server().await;
    let admin = server.admin();
    admin
        .add_project(&Project {
            id: 42,
            name: "Website".into(),
            path_with_namespace: "acme/website".into(),
        })
        .await
        .unwrap();
    let runner = dev_runner(&server).await;
    let job = admin
        .start_job(runner.id, &NewJob::running(42, "deploy"))
        .await
        .unwrap();
    let response = http()
        .get(format!(
            "{}/runners/{}/jobs?status=running",
            server.api_url(),
            runner.id
        ))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let jobs = body(response).await;
    let listed = &jobs[0];
    assert_eq!(listed["id"], json!(job.id));
    assert_eq!(listed["status"], "running");
    assert_eq!(listed["name"], "deploy");
    assert_eq!(listed["stage"], "test");
    assert_eq!(listed["ref"], "main");
    assert!(listed["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(listed["started_at"].is_string());
    assert!(listed["finished_at"].is_null());
    assert_eq!(
        listed["web_url"],
        format!("{}/acme/website/-/jobs/{}", server.url(), job.id)
    );
    assert_eq!(listed["project"]["id"], 42);
    assert_eq!(listed["project"]["name"], "Website");
    assert_eq!(listed["project"]["path_with_namespace"], "acme/website");
    assert!(listed["pipeline"]["id"].is_u64());
    assert_eq!(job.web_url, listed["web_url"]);
}

#[tokio::test]
async fn pages_follow_x_next_page_with_gitlab_headers() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
    let mut started = Vec::new();
    for n in 0..5 {
        let job = admin
            .start_job(runner.id, &NewJob::running(1, format!("job-{n}")))
            .await
            .unwrap();
        started.push(job.id);
    }
    let base = format!("{}/runners/{}/jobs", server.api_url(), runner.id);
    let mut seen = Vec::new();
    let mut page = Some("1".to_owned());
    let mut pages = 0;
    while let Some(number) = page.take() {
        let response = http()
            .get(&base)
            .query(&[("status", "running"), ("per_page", "2"), ("page", &number)])
            .header("PRIVATE-TOKEN", ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-page"), number);
        assert_eq!(header(&response, "x-per-page"), "2");
        assert_eq!(header(&response, "x-total"), "5");
        assert_eq!(header(&response, "x-total-pages"), "3");
        let link = header(&response, "link");
        assert!(link.contains("rel=\"first\""), "{link}");
        assert!(link.contains("rel=\"last\""), "{link}");
        assert!(link.contains("status=running"), "{link}");
        let next = header(&response, "x-next-page");
        if number == "1" {
            assert_eq!(header(&response, "x-prev-page"), "");
        }
        if !next.is_empty() {
            assert!(
                link.contains(&format!("page={next}&per_page=2>; rel=\"next\"")),
                "{link}"
            );
            page = Some(next);
        }
        seen.extend(ids(&body(response).await));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, started);
}

#[tokio::test]
async fn status_filter_and_finishing_jobs() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
    let first = admin
        .start_job(runner.id, &NewJob::running(1, "a"))
        .await
        .unwrap();
    let second = admin
        .start_job(runner.id, &NewJob::running(1, "b"))
        .await
        .unwrap();
    let finished = admin.finish_job(first.id).await.unwrap();
    assert_eq!(finished.status, JobStatus::Success);
    admin
        .set_job_status(second.id, JobStatus::Failed)
        .await
        .unwrap();
    let list = |status: &'static str| {
        let url = format!(
            "{}/runners/{}/jobs?status={status}",
            server.api_url(),
            runner.id
        );
        async move {
            let response = http()
                .get(url)
                .header("PRIVATE-TOKEN", ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            ids(&body(response).await)
        }
    };
    assert_eq!(list("running").await, Vec::<u64>::new());
    assert_eq!(list("success").await, vec![first.id]);
    assert_eq!(list("failed").await, vec![second.id]);
    let all = http()
        .get(format!("{}/runners/{}/jobs", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    let all = body(all).await;
    assert_eq!(ids(&all), vec![first.id, second.id]);
    assert!(all[0]["finished_at"].is_string());
}

#[tokio::test]
async fn job_finishes_on_its_own_after_the_delay() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
    let job = admin
        .start_job(runner.id, &NewJob::running(1, "slow").finishing_after(150))
        .await
        .unwrap();
    assert_eq!(admin.job(job.id).await.unwrap().status, JobStatus::Running);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(admin.job(job.id).await.unwrap().status, JobStatus::Success);
}

#[tokio::test]
async fn non_admin_sees_only_jobs_in_visible_projects() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
    let visible = admin
        .start_job(runner.id, &NewJob::running(10, "mine"))
        .await
        .unwrap();
    let hidden = admin
        .start_job(runner.id, &NewJob::running(20, "theirs"))
        .await
        .unwrap();
    admin.set_token_projects("dev", &[10]).await.unwrap();
    let url = format!(
        "{}/runners/{}/jobs?status=running",
        server.api_url(),
        runner.id
    );
    let as_dev = http()
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&as_dev, "x-total"), "1");
    assert_eq!(ids(&body(as_dev).await), vec![visible.id]);
    let as_admin = http()
        .get(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&body(as_admin).await), vec![visible.id, hidden.id]);
    admin.set_token_projects("dev", &[]).await.unwrap();
    let hidden_all = http()
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&body(hidden_all).await), Vec::<u64>::new());
}

#[tokio::test]
async fn order_by_id_honours_sort() {
    let server = server().await;
    let admin = server.admin();
    let runner = dev_runner(&server).await;
    let mut started = Vec::new();
    for n in 0..3 {
        started.push(
            admin
                .start_job(runner.id, &NewJob::running(1, format!("j{n}")))
                .await
                .unwrap()
                .id,
        );
    }
    let fetch = |query: &'static str| {
        let url = format!("{}/runners/{}/jobs?{query}", server.api_url(), runner.id);
        async move {
            let response = http()
                .get(url)
                .header("PRIVATE-TOKEN", ADMIN)
                .send()
                .await
                .unwrap();
            ids(&body(response).await)
        }
    };
    let mut descending = started.clone();
    descending.reverse();
    assert_eq!(fetch("order_by=id").await, descending);
    assert_eq!(fetch("order_by=id&sort=desc").await, descending);
    assert_eq!(fetch("order_by=id&sort=asc").await, started);
}

#[tokio::test]
async fn invalid_list_parameters_are_400() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    for (query, expected) in [
        ("status=done", "status does not have a valid value"),
        ("order_by=name", "order_by does not have a valid value"),
        ("sort=up", "sort does not have a valid value"),
        ("per_page=many", "per_page is invalid"),
    ] {
        let response = http()
            .get(format!(
                "{}/runners/{}/jobs?{query}",
                server.api_url(),
                runner.id
            ))
            .header("PRIVATE-TOKEN", ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            body(response).await,
            json!({ "error": expected }),
            "{query}"
        );
    }
}

#[tokio::test]
async fn jobs_of_unknown_or_foreign_runner_are_refused() {
    let server = server().await;
    let unknown = http()
        .get(format!("{}/runners/999/jobs", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let foreign = server
        .admin()
        .create_runner(&gitlab_test_server::NewRunner::default())
        .await
        .unwrap();
    let refused = http()
        .get(format!("{}/runners/{}/jobs", server.api_url(), foreign.id))
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let anonymous = http()
        .get(format!("{}/runners/{}/jobs", server.api_url(), foreign.id))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
