use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, World, runner_path};

#[tokio::test]
async fn valid_token_returns_runner_id_without_private_token() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let reply = world
        .post("/runners/verify")
        .form(&[("token", runner.token.as_str())])
        .send()
        .await;
    reply.assert_json(
        StatusCode::OK,
        json!({"id": runner.id, "token": runner.token, "token_expires_at": null}),
    );
}

#[tokio::test]
async fn verify_accepts_json_and_registers_the_system_id() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let verified = world
        .post("/runners/verify")
        .json(&json!({"token": runner.token, "system_id": "s_000000000001"}))
        .send()
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(verified["id"], json!(runner.id));
    let managers_path = format!("{}/managers", runner_path(runner.id));
    let managers = world.get_as(ADMIN, &managers_path).await;
    assert_eq!(managers.json()[0]["system_id"], "s_000000000001");
}

#[tokio::test]
async fn unknown_token_is_403_and_missing_token_is_400() {
    let world = World::start().await;
    let refused = world
        .post("/runners/verify")
        .form(&[("token", "glrt-not-a-runner")])
        .send()
        .await;
    refused.assert_json(StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}));
    let missing = world.post("/runners/verify").send().await;
    missing.assert_json(
        StatusCode::BAD_REQUEST,
        json!({"error": "token is missing"}),
    );
}
