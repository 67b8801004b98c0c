use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, DEV, READER, World, runner_path};
use gitlab_test_server::{NewRunner, RunnerType};

#[tokio::test]
async fn get_runner_returns_gitlab_details_fields() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let reply = world.get_as(ADMIN, &runner_path(runner.id)).await;
    let details = reply.json_with_status(StatusCode::OK);
    assert_eq!(details["id"], json!(runner.id));
    assert_eq!(details["description"], "dev runner");
    assert_eq!(details["paused"], false);
    assert_eq!(details["active"], true);
    assert_eq!(details["is_shared"], true);
    assert_eq!(details["runner_type"], "instance_type");
    assert_eq!(details["status"], "never_contacted");
    assert_eq!(details["online"], false);
    assert_eq!(details["run_untagged"], true);
    assert_eq!(details["access_level"], "not_protected");
    assert_eq!(details["tag_list"], json!([]));
    assert!(
        details.get("token").is_none(),
        "details must not leak the token"
    );
}

#[tokio::test]
async fn bearer_authorization_is_accepted_like_private_token() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let reply = world.get(&runner_path(runner.id)).bearer(DEV).send().await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_unknown_token_is_401_with_gitlab_message() {
    let world = World::start().await;
    let path = runner_path(world.dev_runner().await.id);
    let missing = world.get(&path).send().await;
    missing.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"message": "401 Unauthorized"}),
    );
    let unknown = world.get_as("glpat-nobody", &path).await;
    unknown.assert_json(
        StatusCode::UNAUTHORIZED,
        json!({"message": "401 Unauthorized"}),
    );
}

#[tokio::test]
async fn unknown_runner_is_404_and_malformed_id_is_400() {
    let world = World::start().await;
    let missing = world.get_as(ADMIN, "/runners/424242").await;
    missing.assert_json(
        StatusCode::NOT_FOUND,
        json!({"message": "404 Runner Not Found"}),
    );
    let malformed = world.get_as(ADMIN, "/runners/abc").await;
    malformed.assert_json(StatusCode::BAD_REQUEST, json!({"error": "id is invalid"}));
}

#[tokio::test]
async fn runner_the_user_cannot_manage_is_403_no_access_granted() {
    let world = World::start().await;
    let foreign_group_runner = world
        .create_runner(&NewRunner {
            runner_type: RunnerType::GroupType,
            group_id: Some(3),
            ..NewRunner::default()
        })
        .await;
    let path = runner_path(foreign_group_runner.id);
    let read = world.get_as(DEV, &path).await;
    read.assert_json(
        StatusCode::FORBIDDEN,
        json!({"message": "403 Forbidden - No access granted"}),
    );
    let update = world.put_form_as(DEV, &path, &[("paused", "true")]).await;
    assert_eq!(update.status, StatusCode::FORBIDDEN);
    assert!(!world.is_paused(foreign_group_runner.id).await);
}

#[tokio::test]
async fn instance_runner_details_are_readable_by_any_user_but_not_changeable() {
    let world = World::start().await;
    let foreign = world.create_runner(&NewRunner::default()).await;
    let path = runner_path(foreign.id);
    let read = world.get_as(DEV, &path).await;
    assert_eq!(read.status, StatusCode::OK);
    let delete = world.delete_as(DEV, &path).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert!(world.runner_exists(foreign.id).await);
}

#[tokio::test]
async fn pause_with_form_body_then_resume_with_json_body() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let paused = world
        .put_form_as(DEV, &path, &[("paused", "true")])
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["active"], false);
    assert!(world.is_paused(runner.id).await);

    let resumed = world
        .put(&path)
        .private_token(DEV)
        .json(&json!({"paused": false}))
        .send()
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(resumed["paused"], false);
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn deprecated_active_is_the_inverse_of_paused() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let updated = world
        .put_form_as(ADMIN, &runner_path(runner.id), &[("active", "false")])
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(updated["paused"], true);
}

#[tokio::test]
async fn update_changes_every_setting() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let settings = [
        ("description", "renamed"),
        ("tag_list", "k8s,linux"),
        ("run_untagged", "false"),
        ("locked", "true"),
        ("access_level", "ref_protected"),
        ("maximum_timeout", "3600"),
    ];
    let updated = world
        .put_form_as(ADMIN, &runner_path(runner.id), &settings)
        .await;
    let details = updated.json_with_status(StatusCode::OK);
    assert_eq!(details["description"], "renamed");
    assert_eq!(details["tag_list"], json!(["k8s", "linux"]));
    assert_eq!(details["run_untagged"], false);
    assert_eq!(details["locked"], true);
    assert_eq!(details["access_level"], "ref_protected");
    assert_eq!(details["maximum_timeout"], 3600);
}

#[tokio::test]
async fn update_validation_errors_are_400() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let cases = [
        (
            vec![("paused", "true"), ("active", "true")],
            json!({"error": "active, paused are mutually exclusive"}),
        ),
        (
            vec![("access_level", "everyone")],
            json!({"error": "access_level does not have a valid value"}),
        ),
        (
            vec![("paused", "sometimes")],
            json!({"error": "paused is invalid"}),
        ),
        (
            vec![("maximum_timeout", "60")],
            json!({"message": {"maximum_timeout": ["needs to be at least 10 minutes"]}}),
        ),
    ];
    for (form, expected) in cases {
        let reply = world.put_form_as(ADMIN, &path, &form).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(reply.json(), expected, "{form:?}");
    }
    let empty = world.put(&path).private_token(ADMIN).send().await;
    let refusal = empty.json_with_status(StatusCode::BAD_REQUEST);
    let message = refusal["error"].as_str().unwrap();
    assert!(
        message.contains("at least one parameter must be provided"),
        "{message}"
    );
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn read_only_token_can_read_but_not_update_or_delete() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let read = world.get_as(READER, &path).await;
    assert_eq!(read.status, StatusCode::OK);
    let update = world
        .put_form_as(READER, &path, &[("paused", "true")])
        .await;
    let refusal = update.json_with_status(StatusCode::FORBIDDEN);
    assert_eq!(refusal["error"], "insufficient_scope");
    assert_eq!(refusal["scope"], "api manage_runner");
    let delete = world.delete_as(READER, &path).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert!(world.runner_exists(runner.id).await);
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let deleted = world.delete_as(DEV, &path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.text().is_empty());
    assert!(!world.runner_exists(runner.id).await);
    let again = world.delete_as(ADMIN, &path).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_api_route_is_gitlab_404() {
    let world = World::start().await;
    let reply = world.get_as(ADMIN, "/projects").await;
    reply.assert_json(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"}));
}
