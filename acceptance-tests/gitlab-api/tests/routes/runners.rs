use reqwest::StatusCode;
use serde_json::json;

use crate::{ADMIN, DEV, READER, body, dev_runner, http, server};
use gitlab_test_server::{NewRunner, RunnerType};

#[tokio::test]
async fn get_runner_returns_gitlab_details_fields() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .get(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let details = body(response).await;
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
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .get(format!("{}/runners/{}", server.api_url(), runner.id))
        .bearer_auth(DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_or_unknown_token_is_401_with_gitlab_message() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let missing = http().get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(missing).await, json!({"message": "401 Unauthorized"}));
    let unknown = http()
        .get(&url)
        .header("PRIVATE-TOKEN", "glpat-nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(unknown).await, json!({"message": "401 Unauthorized"}));
}

#[tokio::test]
async fn unknown_runner_is_404_and_malformed_id_is_400() {
    let server = server().await;
    let missing = http()
        .get(format!("{}/runners/424242", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(missing).await,
        json!({"message": "404 Runner Not Found"})
    );
    let malformed = http()
        .get(format!("{}/runners/abc", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(malformed).await, json!({"error": "id is invalid"}));
}

#[tokio::test]
async fn runner_the_user_cannot_manage_is_403_no_access_granted() {
    let server = server().await;
    let foreign_group_runner = server
        .admin()
        .create_runner(&NewRunner {
            runner_type: RunnerType::GroupType,
            group_id: Some(3),
            ..NewRunner::default()
        })
        .await
        .unwrap();
    let url = format!("{}/runners/{}", server.api_url(), foreign_group_runner.id);
    let read = http()
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(read).await,
        json!({"message": "403 Forbidden - No access granted"})
    );
    let update = http()
        .put(&url)
        .header("PRIVATE-TOKEN", DEV)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), StatusCode::FORBIDDEN);
    assert!(
        !server
            .admin()
            .runner(foreign_group_runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
}

#[tokio::test]
async fn instance_runner_details_are_readable_by_any_user_but_not_changeable() {
    let server = server().await;
    let foreign = server
        .admin()
        .create_runner(&NewRunner::default())
        .await
        .unwrap();
    let url = format!("{}/runners/{}", server.api_url(), foreign.id);
    let read = http()
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let delete = http()
        .delete(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    assert!(server.admin().runner(foreign.id).await.unwrap().is_some());
}

#[tokio::test]
async fn pause_with_form_body_then_resume_with_json_body() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let paused = http()
        .put(&url)
        .header("PRIVATE-TOKEN", DEV)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), StatusCode::OK);
    let paused = body(paused).await;
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["active"], false);
    assert!(
        server
            .admin()
            .runner(runner.id)
            .await
            .unwrap()
            .unwrap()
            .paused
    );

    let resumed = http()
        .put(&url)
        .header("PRIVATE-TOKEN", DEV)
        .json(&json!({"paused": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::OK);
    assert_eq!(body(resumed).await["paused"], false);
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
async fn deprecated_active_is_the_inverse_of_paused() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .put(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[("active", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["paused"], true);
}

#[tokio::test]
async fn update_changes_every_setting() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let response = http()
        .put(format!("{}/runners/{}", server.api_url(), runner.id))
        .header("PRIVATE-TOKEN", ADMIN)
        .form(&[
            ("description", "renamed"),
            ("tag_list", "k8s,linux"),
            ("run_untagged", "false"),
            ("locked", "true"),
            ("access_level", "ref_protected"),
            ("maximum_timeout", "3600"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let details = body(response).await;
    assert_eq!(details["description"], "renamed");
    assert_eq!(details["tag_list"], json!(["k8s", "linux"]));
    assert_eq!(details["run_untagged"], false);
    assert_eq!(details["locked"], true);
    assert_eq!(details["access_level"], "ref_protected");
    assert_eq!(details["maximum_timeout"], 3600);
}

#[tokio::test]
async fn update_validation_errors_are_400() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
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
        let response = http()
            .put(&url)
            .header("PRIVATE-TOKEN", ADMIN)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body(response).await, expected, "{form:?}");
    }
    let empty = http()
        .put(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let message = body(empty).await["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("at least one parameter must be provided"),
        "{message}"
    );
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
async fn read_only_token_can_read_but_not_update_or_delete() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let read = http()
        .get(&url)
        .header("PRIVATE-TOKEN", READER)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let update = http()
        .put(&url)
        .header("PRIVATE-TOKEN", READER)
        .form(&[("paused", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), StatusCode::FORBIDDEN);
    let refusal = body(update).await;
    assert_eq!(refusal["error"], "insufficient_scope");
    assert_eq!(refusal["scope"], "api manage_runner");
    let delete = http()
        .delete(&url)
        .header("PRIVATE-TOKEN", READER)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    assert!(server.admin().runner(runner.id).await.unwrap().is_some());
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let server = server().await;
    let runner = dev_runner(&server).await;
    let url = format!("{}/runners/{}", server.api_url(), runner.id);
    let deleted = http()
        .delete(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().await.unwrap().is_empty());
    assert!(server.admin().runner(runner.id).await.unwrap().is_none());
    let again = http()
        .delete(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_api_route_is_gitlab_404() {
    let server = server().await;
    let response = http()
        .get(format!("{}/projects", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(response).await, json!({"error": "404 Not Found"}));
}
