use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, DEV, World, runner_path};
use gitlab_test_server::NewManager;

#[tokio::test]
async fn managers_are_listed_with_status_fields() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let admin = world.admin();
    admin
        .add_manager(runner.id, &NewManager::online("r_0123456789ab"))
        .await
        .unwrap();
    admin
        .add_manager(
            runner.id,
            &NewManager {
                system_id: "s_ba9876543210".into(),
                status: "offline".into(),
                job_execution_status: "active".into(),
                version: Some("18.9.0".into()),
            },
        )
        .await
        .unwrap();
    let path = runner_path(runner.id);
    let reply = world.get_as(DEV, &format!("{path}/managers")).await;
    let managers = reply.json_with_status(StatusCode::OK);
    assert_eq!(managers.as_array().unwrap().len(), 2);
    assert_eq!(managers[0]["system_id"], "r_0123456789ab");
    assert_eq!(managers[0]["status"], "online");
    assert_eq!(managers[0]["job_execution_status"], "idle");
    assert!(managers[0]["created_at"].is_string());
    assert!(managers[0]["contacted_at"].is_string());
    assert_eq!(managers[1]["job_execution_status"], "active");
    assert_eq!(managers[1]["version"], "18.9.0");

    let details = world.get_as(ADMIN, &path).await.json();
    assert_eq!(details["status"], "online");
}

#[tokio::test]
async fn managers_of_unknown_runner_is_404() {
    let world = World::start().await;
    let reply = world.get_as(ADMIN, "/runners/31337/managers").await;
    reply.assert_json(
        StatusCode::NOT_FOUND,
        json!({"message": "404 Runner Not Found"}),
    );
}
