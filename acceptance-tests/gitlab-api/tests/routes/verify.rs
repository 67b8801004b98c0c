use reqwest::StatusCode;
use serde_json::json;

use crate::{body, dev_runner, http, server};

#[tokio::test]
async fn valid_token_returns_runner_id_without_private_token() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .post(format!("{}/runners/verify", server.api_url()))
        .form(&[("token", runner.token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"id": runner.id, "token": runner.token, "token_expires_at": null})
    );
}

#[tokio::test]
async fn verify_accepts_json_and_registers_the_system_id() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .post(format!("{}/runners/verify", server.api_url()))
        .json(&json!({"token": runner.token, "system_id": "s_000000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["id"], json!(runner.id));
    let managers = http()
        .get(format!(
            "{}/runners/{}/managers",
            server.api_url(),
            runner.id
        ))
        .header("PRIVATE-TOKEN", crate::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(body(managers).await[0]["system_id"], "s_000000000001");
}

#[tokio::test]
async fn unknown_token_is_403_and_missing_token_is_400() {
    let server = server().await;
    let refused = http()
        .post(format!("{}/runners/verify", server.api_url()))
        .form(&[("token", "glrt-not-a-runner")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(refused).await, json!({"message": "403 Forbidden"}));
    let missing = http()
        .post(format!("{}/runners/verify", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(missing).await, json!({"error": "token is missing"}));
}
