//! Token reset (by a user and by the runner itself) and token expiry.

use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, DEV, READER, World, runner_path};

fn reset_path(id: u64) -> String {
    format!("{}/reset_authentication_token", runner_path(id))
}

/// `POST /runners/verify` with `token`: the status GitLab answers.
async fn verify_status(world: &World, token: &str) -> StatusCode {
    world
        .post("/runners/verify")
        .form(&[("token", token)])
        .send()
        .await
        .status
}

#[tokio::test]
async fn a_manager_resets_the_token_and_the_old_one_stops_working() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let reset = world
        .post(&reset_path(runner.id))
        .private_token(DEV)
        .send()
        .await
        .json_with_status(StatusCode::CREATED);
    let new_token = reset["token"].as_str().unwrap();
    assert!(new_token.starts_with("glrt-"), "{new_token}");
    assert_ne!(new_token, runner.token);
    assert!(reset["token_expires_at"].is_null());
    assert_eq!(
        verify_status(&world, &runner.token).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(verify_status(&world, new_token).await, StatusCode::OK);
}

#[tokio::test]
async fn reset_needs_a_managing_scope_and_user_and_an_existing_runner() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let read_only = world
        .post(&reset_path(runner.id))
        .private_token(READER)
        .send()
        .await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    assert_eq!(read_only.json()["error"], "insufficient_scope");
    let foreign = world.create_runner(&Default::default()).await;
    world
        .post(&reset_path(foreign.id))
        .private_token(DEV)
        .send()
        .await
        .assert_json(
            StatusCode::FORBIDDEN,
            json!({"message": "403 Forbidden - No access granted"}),
        );
    world
        .post(&reset_path(999_999))
        .private_token(ADMIN)
        .send()
        .await
        .assert_json(
            StatusCode::NOT_FOUND,
            json!({"message": "404 Runner Not Found"}),
        );
    let anonymous = world.post(&reset_path(runner.id)).send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        world
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .token,
        runner.token
    );
}

#[tokio::test]
async fn the_runner_rotates_its_own_token_with_the_current_one() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let rotated = world.admin().rotate_as_runner(&runner.token).await.unwrap();
    assert_ne!(rotated.token, runner.token);
    assert_eq!(
        verify_status(&world, &runner.token).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(verify_status(&world, &rotated.token).await, StatusCode::OK);
    world
        .post("/runners/reset_authentication_token")
        .form(&[("token", runner.token.as_str())])
        .send()
        .await
        .assert_json(StatusCode::FORBIDDEN, json!({"message": "403 Forbidden"}));
}

#[tokio::test]
async fn tokens_expire_after_the_interval_by_the_server_clock() {
    let world = World::start().await;
    world
        .admin()
        .set_token_expiration_interval(Some(7200))
        .await
        .unwrap();
    let created = world
        .post("/user/runners")
        .private_token(ADMIN)
        .json(&json!({"runner_type": "instance_type"}))
        .send()
        .await
        .json_with_status(StatusCode::CREATED);
    let token = created["token"].as_str().unwrap();
    let expires = created["token_expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");
    assert_eq!(verify_status(&world, token).await, StatusCode::OK);
    world.admin().advance_clock(7201).await.unwrap();
    assert_eq!(verify_status(&world, token).await, StatusCode::FORBIDDEN);
    let rotate = world
        .post("/runners/reset_authentication_token")
        .form(&[("token", token)])
        .send()
        .await;
    assert_eq!(
        rotate.status,
        StatusCode::FORBIDDEN,
        "an expired token cannot rotate itself"
    );
    // A user can still reset it: the new token gets a fresh expiry.
    let id = created["id"].as_u64().unwrap();
    let reset = world
        .post(&reset_path(id))
        .private_token(ADMIN)
        .send()
        .await
        .json_with_status(StatusCode::CREATED);
    assert_ne!(reset["token_expires_at"].as_str().unwrap(), expires);
    assert_eq!(
        verify_status(&world, reset["token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}
