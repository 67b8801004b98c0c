use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::world::{ADMIN, DEV, World, runner_path};
use gitlab_test_server::{JobStatus, NewJob, NewRunner, Project};

fn ids(jobs: &Value) -> Vec<u64> {
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_u64().unwrap())
        .collect()
}

/// `/runners/:id/jobs`, below the API root.
fn jobs_path(runner_id: u64) -> String {
    format!("{}/jobs", runner_path(runner_id))
}

/// Starts `count` running jobs in project 1, named `job-0`…, and gives their ids in order.
async fn start_running_jobs(world: &World, runner_id: u64, count: usize) -> Vec<u64> {
    let mut started = Vec::new();
    for n in 0..count {
        let job = NewJob::running(1, format!("job-{n}"));
        started.push(world.start_job(runner_id, &job).await.id);
    }
    started
}

/// The ids the administrator is shown by `GET /runners/:id/jobs?{query}`, which must answer 200.
async fn listed_ids(world: &World, runner_id: u64, query: &str) -> Vec<u64> {
    let path = format!("{}?{query}", jobs_path(runner_id));
    let reply = world.get_as(ADMIN, &path).await;
    ids(&reply.json_with_status(StatusCode::OK))
}

#[tokio::test]
async fn job_json_has_gitlab_fields() {
    let world = World::start().await;
    world
        .admin()
        .add_project(&Project {
            id: 42,
            name: "Website".into(),
            path_with_namespace: "acme/website".into(),
        })
        .await
        .unwrap();
    let runner = world.dev_runner().await;
    let job = world
        .start_job(runner.id, &NewJob::running(42, "deploy"))
        .await;
    let path = format!("{}?status=running", jobs_path(runner.id));
    let reply = world.get_as(ADMIN, &path).await;
    let jobs = reply.json_with_status(StatusCode::OK);
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
        format!("{}/acme/website/-/jobs/{}", world.url(), job.id)
    );
    assert_eq!(listed["project"]["id"], 42);
    assert_eq!(listed["project"]["name"], "Website");
    assert_eq!(listed["project"]["path_with_namespace"], "acme/website");
    assert!(listed["pipeline"]["id"].is_u64());
    assert_eq!(job.web_url, listed["web_url"]);
}

#[tokio::test]
async fn pages_follow_x_next_page_with_gitlab_headers() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let started = start_running_jobs(&world, runner.id, 5).await;
    let path = jobs_path(runner.id);
    let mut seen = Vec::new();
    let mut page = Some("1".to_owned());
    let mut pages = 0;
    while let Some(number) = page.take() {
        let reply = world
            .get(&path)
            .query(&[("status", "running"), ("per_page", "2"), ("page", &number)])
            .private_token(ADMIN)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("x-page"), number);
        assert_eq!(reply.header("x-per-page"), "2");
        assert_eq!(reply.header("x-total"), "5");
        assert_eq!(reply.header("x-total-pages"), "3");
        let link = reply.header("link");
        assert!(link.contains("rel=\"first\""), "{link}");
        assert!(link.contains("rel=\"last\""), "{link}");
        assert!(link.contains("status=running"), "{link}");
        let next = reply.header("x-next-page");
        if number == "1" {
            assert_eq!(reply.header("x-prev-page"), "");
        }
        if !next.is_empty() {
            assert!(
                link.contains(&format!("page={next}&per_page=2>; rel=\"next\"")),
                "{link}"
            );
            page = Some(next);
        }
        seen.extend(ids(&reply.json()));
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, started);
}

#[tokio::test]
async fn status_filter_and_finishing_jobs() {
    let world = World::start().await;
    let admin = world.admin();
    let runner = world.dev_runner().await;
    let first = world.start_job(runner.id, &NewJob::running(1, "a")).await;
    let second = world.start_job(runner.id, &NewJob::running(1, "b")).await;
    let finished = admin.finish_job(first.id).await.unwrap();
    assert_eq!(finished.status, JobStatus::Success);
    admin
        .set_job_status(second.id, JobStatus::Failed)
        .await
        .unwrap();
    let by_status = |status| listed_ids(&world, runner.id, status);
    assert_eq!(by_status("status=running").await, Vec::<u64>::new());
    assert_eq!(by_status("status=success").await, vec![first.id]);
    assert_eq!(by_status("status=failed").await, vec![second.id]);
    let all = world.get_as(ADMIN, &jobs_path(runner.id)).await.json();
    assert_eq!(ids(&all), vec![first.id, second.id]);
    assert!(all[0]["finished_at"].is_string());
}

#[tokio::test]
async fn job_finishes_on_its_own_after_the_delay() {
    let world = World::start().await;
    let admin = world.admin();
    let runner = world.dev_runner().await;
    let slow = NewJob::running(1, "slow").finishing_after(150);
    let job = world.start_job(runner.id, &slow).await;
    assert_eq!(admin.job(job.id).await.unwrap().status, JobStatus::Running);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(admin.job(job.id).await.unwrap().status, JobStatus::Success);
}

#[tokio::test]
async fn non_admin_sees_only_jobs_in_visible_projects() {
    let world = World::start().await;
    let admin = world.admin();
    let runner = world.dev_runner().await;
    let visible = world
        .start_job(runner.id, &NewJob::running(10, "mine"))
        .await;
    let hidden = world
        .start_job(runner.id, &NewJob::running(20, "theirs"))
        .await;
    admin.set_token_projects("dev", &[10]).await.unwrap();
    let path = format!("{}?status=running", jobs_path(runner.id));
    let as_dev = world.get_as(DEV, &path).await;
    assert_eq!(as_dev.header("x-total"), "1");
    assert_eq!(ids(&as_dev.json()), vec![visible.id]);
    let as_admin = world.get_as(ADMIN, &path).await;
    assert_eq!(ids(&as_admin.json()), vec![visible.id, hidden.id]);
    admin.set_token_projects("dev", &[]).await.unwrap();
    let hidden_all = world.get_as(DEV, &path).await;
    assert_eq!(ids(&hidden_all.json()), Vec::<u64>::new());
}

#[tokio::test]
async fn order_by_id_honours_sort() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let started = start_running_jobs(&world, runner.id, 3).await;
    let mut descending = started.clone();
    descending.reverse();
    for (query, expected) in [
        ("order_by=id", &descending),
        ("order_by=id&sort=desc", &descending),
        ("order_by=id&sort=asc", &started),
    ] {
        assert_eq!(
            &listed_ids(&world, runner.id, query).await,
            expected,
            "{query}"
        );
    }
}

#[tokio::test]
async fn invalid_list_parameters_are_400() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    for (query, expected) in [
        ("status=done", "status does not have a valid value"),
        ("order_by=name", "order_by does not have a valid value"),
        ("sort=up", "sort does not have a valid value"),
        ("per_page=many", "per_page is invalid"),
    ] {
        let path = format!("{}?{query}", jobs_path(runner.id));
        let reply = world.get_as(ADMIN, &path).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json(), json!({ "error": expected }), "{query}");
    }
}

#[tokio::test]
async fn jobs_of_unknown_or_foreign_runner_are_refused() {
    let world = World::start().await;
    let unknown = world.get_as(ADMIN, &jobs_path(999)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let foreign = world.create_runner(&NewRunner::default()).await;
    let path = jobs_path(foreign.id);
    let refused = world.get_as(DEV, &path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = world.get(&path).send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
