//! Each call the client makes, answered normally.

use gitlab_runner_api::{CreateRunner, Deletion, ExposeSecret, GitlabError, RunnerScope};
use gitlab_test_server::{NewJob, NewManager};

use crate::world::{ADMIN, DEV, READER, World};

#[tokio::test]
async fn verify_finds_the_runner_id_from_its_token() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let identity = world
        .client(ADMIN)
        .verify_runner(&runner.token)
        .await
        .unwrap();
    assert_eq!(identity.id, runner.id);
    assert_eq!(identity.token_expires_at, None);
    let log = world.request_log().await;
    assert_eq!(log[0].path, "/api/v4/runners/verify");
    assert_eq!(
        log[0].token_name, None,
        "verify must not send the access token"
    );
    assert!(world.runner_exists(runner.id).await);
}

#[tokio::test]
async fn verify_with_an_invalid_runner_token_says_so() {
    let world = World::start().await;
    let error = world
        .client(ADMIN)
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
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let details = world.client(DEV).get_runner(runner.id).await.unwrap();
    assert_eq!(details.id, runner.id);
    assert_eq!(details.description.as_deref(), Some("k8s"));
    assert!(!details.paused);
    assert_eq!(details.status.as_deref(), Some("never_contacted"));
    assert_eq!(details.runner_type.as_deref(), Some("instance_type"));
    let admin = world.client(ADMIN);
    assert!(admin.find_runner(987_654).await.unwrap().is_none());
    let error = admin.get_runner(987_654).await.unwrap_err();
    assert!(error.is_not_found());
}

#[tokio::test]
async fn pause_and_resume_change_the_runner() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let client = world.client(DEV);
    let paused = client.set_paused(runner.id, true).await.unwrap();
    assert!(paused.paused);
    assert!(world.is_paused(runner.id).await);
    let resumed = client.set_paused(runner.id, false).await.unwrap();
    assert!(!resumed.paused);
    assert!(!world.is_paused(runner.id).await);
    let log = world.request_log().await;
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
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let admin = world.admin();
    let mut running = Vec::new();
    for n in 0..230 {
        let job = NewJob::running(1 + n % 3, format!("job-{n}"));
        running.push(world.start_job(runner.id, &job).await.id);
    }
    let finished = world
        .start_job(runner.id, &NewJob::running(1, "done"))
        .await;
    admin.finish_job(finished.id).await.unwrap();
    admin.clear_requests().await.unwrap();

    let jobs = world.client(ADMIN).running_jobs(runner.id).await.unwrap();
    let ids: Vec<u64> = jobs.iter().map(|job| job.id).collect();
    assert_eq!(ids, running);
    assert!(jobs.iter().all(|job| job.status == "running"));
    assert!(jobs[0].web_url.as_deref().unwrap().contains("/-/jobs/"));
    let log = world.request_log().await;
    let pages: Vec<String> = log.into_iter().map(|entry| entry.query.unwrap()).collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[0].ends_with("per_page=100&page=1"));
    assert!(pages[2].ends_with("per_page=100&page=3"));
}

#[tokio::test]
async fn running_jobs_of_a_non_admin_token_exclude_invisible_projects() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let mine = world
        .start_job(runner.id, &NewJob::running(10, "mine"))
        .await;
    world
        .start_job(runner.id, &NewJob::running(20, "hidden"))
        .await;
    world
        .admin()
        .set_token_projects("dev", &[10])
        .await
        .unwrap();
    let as_dev = world.client(DEV).running_jobs(runner.id).await.unwrap();
    assert_eq!(
        as_dev.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    let as_admin = world.client(ADMIN).running_jobs(runner.id).await.unwrap();
    assert_eq!(as_admin.len(), 2);
}

#[tokio::test]
async fn current_user_tells_administrators_apart() {
    let world = World::start().await;
    let admin = world.client(ADMIN).current_user().await.unwrap();
    assert!(admin.is_admin);
    assert_eq!(admin.username, "admin");
    let reader = world.client(READER).current_user().await.unwrap();
    assert!(!reader.is_admin);
    let error = world.client(DEV).current_user().await.unwrap_err();
    assert!(matches!(error, GitlabError::Forbidden { .. }), "{error:?}");
    assert!(error.to_string().contains("`read_user`"), "{error}");
}

#[tokio::test]
async fn managers_are_listed() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let executing = NewManager {
        job_execution_status: "active".into(),
        ..NewManager::online("r_abcdef012345")
    };
    world
        .admin()
        .add_manager(runner.id, &executing)
        .await
        .unwrap();
    let managers = world.client(READER).managers(runner.id).await.unwrap();
    assert_eq!(managers.len(), 1);
    assert_eq!(managers[0].system_id, "r_abcdef012345");
    assert_eq!(managers[0].status.as_deref(), Some("online"));
    assert!(managers[0].is_executing_jobs());
}

#[tokio::test]
async fn delete_twice_is_deleted_then_already_gone() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let first = world.client(DEV).delete_runner(runner.id).await.unwrap();
    assert_eq!(first, Deletion::Deleted);
    assert!(!world.runner_exists(runner.id).await);
    let again = world.client(ADMIN).delete_runner(runner.id).await.unwrap();
    assert_eq!(again, Deletion::AlreadyGone);
}

#[tokio::test]
async fn created_runner_token_verifies() {
    let world = World::start().await;
    let client = world.client(ADMIN);
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
    let stored = world.admin().runner(created.id).await.unwrap().unwrap();
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
    let world = World::start().await;
    let error = world
        .client(ADMIN)
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
