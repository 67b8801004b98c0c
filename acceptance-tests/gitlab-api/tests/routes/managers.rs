use reqwest::StatusCode;
use serde_json::json;

use crate::{ADMIN, DEV, body, dev_runner, http, server};
use gitlab_test_server::NewManager;

#[tokio::test]
async fn managers_are_listed_with_status_fields() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let admin = server.admin();
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
    let response = http()
        .get(format!(
            "{}/runners/{}/managers",
            server.api_url(),
            runner.id
        ))
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let managers = body(response).await;
    assert_eq!(managers.as_array().unwrap().len(), 2);
    assert_eq!(managers[0]["system_id"], "r_0123456789ab");
    assert_eq!(managers[0]["status"], "online");
    assert_eq!(managers[0]["job_execution_status"], "idle");
    assert!(managers[0]["created_at"].is_string());
    assert!(managers[0]["contacted_at"].is_string());
    assert_eq!(managers[1]["job_execution_status"], "active");
    assert_eq!(managers[1]["version"], "18.9.0");

    let details = http()
        .get(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(body(details).await["status"], "online");
}

#[tokio::test]
async fn managers_of_unknown_runner_is_404() {
    let server = server().await;
    let response = http()
        .get(format!("{}/runners/31337/managers", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(response).await,
        json!({"message": "404 Runner Not Found"})
    );
}
