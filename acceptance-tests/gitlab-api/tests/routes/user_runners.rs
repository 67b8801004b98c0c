use reqwest::StatusCode;
use serde_json::json;

use crate::world::{ADMIN, CREATOR, DEV, World};
use gitlab_test_server::{Scope, TokenSpec};

#[tokio::test]
async fn admin_creates_instance_runner_with_settings() {
    let world = World::start().await;
    let created = world
        .post("/user/runners")
        .private_token(ADMIN)
        .json(&json!({
            "runner_type": "instance_type",
            "description": "k8s",
            "tag_list": ["k8s", "linux"],
            "run_untagged": false,
            "locked": true,
            "paused": true,
            "access_level": "ref_protected",
            "maximum_timeout": 7200,
        }))
        .send()
        .await
        .json_with_status(StatusCode::CREATED);
    let id = created["id"].as_u64().unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("glrt-"), "{token}");
    assert!(created["token_expires_at"].is_null());
    let stored = world.admin().runner(id).await.unwrap().unwrap();
    assert_eq!(stored.token, token);
    assert_eq!(stored.description, "k8s");
    assert_eq!(stored.tag_list, vec!["k8s", "linux"]);
    assert!(!stored.run_untagged);
    assert!(stored.locked);
    assert!(stored.paused);
    assert_eq!(stored.maximum_timeout, Some(7200));
}

#[tokio::test]
async fn create_runner_scope_is_enough_and_creator_then_owns_it() {
    let world = World::start().await;
    let group_owner = TokenSpec {
        groups: vec![5],
        ..TokenSpec::user(
            "group-owner",
            "glpat-group-owner",
            &[Scope::CreateRunner, Scope::ManageRunner],
        )
    };
    world.admin().add_token(&group_owner).await.unwrap();
    let group_runner = [
        ("runner_type", "group_type"),
        ("group_id", "5"),
        ("tag_list", "a,b"),
    ];
    let created = world
        .post_form_as("glpat-group-owner", "/user/runners", &group_runner)
        .await
        .json_with_status(StatusCode::CREATED);
    let id = created["id"].as_u64().unwrap();
    let details = world
        .get_as("glpat-group-owner", &format!("/runners/{id}"))
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(details["runner_type"], "group_type");
    assert_eq!(details["tag_list"], json!(["a", "b"]));
    assert_eq!(details["groups"][0]["id"], 5);
}

#[tokio::test]
async fn runner_type_rules_are_enforced() {
    let world = World::start().await;
    let bad_requests = [
        (json!({}), json!({"error": "runner_type is missing"})),
        (
            json!({"runner_type": "shared"}),
            json!({"error": "runner_type does not have a valid value"}),
        ),
        (
            json!({"runner_type": "group_type"}),
            json!({"error": "group_id is missing"}),
        ),
        (
            json!({"runner_type": "project_type", "group_id": 4}),
            json!({"error": "project_id is missing"}),
        ),
        (
            json!({"runner_type": "instance_type", "maximum_timeout": 300}),
            json!({"message": "400 Bad request - Maximum timeout needs to be at least 10 minutes"}),
        ),
        (
            json!({"runner_type": "instance_type", "access_level": "all"}),
            json!({"error": "access_level does not have a valid value"}),
        ),
    ];
    for (request, expected) in bad_requests {
        let post = world.post("/user/runners").private_token(ADMIN);
        let reply = post.json(&request).send().await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{request}");
        assert_eq!(reply.json(), expected, "{request}");
    }
}

#[tokio::test]
async fn non_admin_cannot_create_outside_its_projects_or_without_scope() {
    let world = World::start().await;
    let instance = [("runner_type", "instance_type")];
    let creator_instance = world
        .post_form_as(CREATOR, "/user/runners", &instance)
        .await;
    creator_instance.assert_json(
        StatusCode::FORBIDDEN,
        json!({"message": "403 Forbidden - Insufficient permissions"}),
    );
    let project = [("runner_type", "project_type"), ("project_id", "77")];
    let creator_project = world.post_form_as(CREATOR, "/user/runners", &project).await;
    assert_eq!(creator_project.status, StatusCode::FORBIDDEN);
    let no_scope = world.post_form_as(DEV, "/user/runners", &instance).await;
    let refusal = no_scope.json_with_status(StatusCode::FORBIDDEN);
    assert_eq!(refusal["scope"], "api create_runner");
    let anonymous = world.post("/user/runners").form(&instance).send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn current_user_shows_is_admin_only_to_administrators() {
    let world = World::start().await;
    let admin = world.get_as(ADMIN, "/user").await;
    let admin = admin.json_with_status(StatusCode::OK);
    assert_eq!(admin["username"], "admin");
    assert_eq!(admin["is_admin"], true);
    assert!(admin["id"].is_u64());
    let plain = TokenSpec::user("plain", "glpat-plain", &[Scope::ReadUser]);
    world.admin().add_token(&plain).await.unwrap();
    let plain = world.get_as("glpat-plain", "/user").await;
    let plain = plain.json_with_status(StatusCode::OK);
    assert_eq!(plain["username"], "plain");
    assert!(plain.get("is_admin").is_none(), "{plain}");
    let runner_only = world.get_as(DEV, "/user").await;
    let refusal = runner_only.json_with_status(StatusCode::FORBIDDEN);
    assert_eq!(refusal["scope"], "api read_api read_user");
}
