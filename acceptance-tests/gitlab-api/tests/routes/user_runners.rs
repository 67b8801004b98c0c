use reqwest::StatusCode;
use serde_json::json;

use crate::{ADMIN, CREATOR, DEV, body, http, server};
use gitlab_test_server::{Scope, TokenSpec};

#[tokio::test]
async fn admin_creates_instance_runner_with_settings() {
    let server = server().await;
    let response = http()
        .post(format!("{}/user/runners", server.api_url()))
        .header("PRIVATE-TOKEN", ADMIN)
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
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = body(response).await;
    let id = created["id"].as_u64().unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("glrt-"), "{token}");
    assert!(created["token_expires_at"].is_null());
    let stored = server.admin().runner(id).await.unwrap().unwrap();
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
    let server = server().await;
    server
        .admin()
        .add_token(&TokenSpec {
            groups: vec![5],
            ..TokenSpec::user(
                "group-owner",
                "glpat-group-owner",
                &[Scope::CreateRunner, Scope::ManageRunner],
            )
        })
        .await
        .unwrap();
    let response = http()
        .post(format!("{}/user/runners", server.api_url()))
        .header("PRIVATE-TOKEN", "glpat-group-owner")
        .form(&[
            ("runner_type", "group_type"),
            ("group_id", "5"),
            ("tag_list", "a,b"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = body(response).await["id"].as_u64().unwrap();
    let details = http()
        .get(format!("{}/runners/{id}", server.api_url()))
        .header("PRIVATE-TOKEN", "glpat-group-owner")
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), StatusCode::OK);
    let details = body(details).await;
    assert_eq!(details["runner_type"], "group_type");
    assert_eq!(details["tag_list"], json!(["a", "b"]));
    assert_eq!(details["groups"][0]["id"], 5);
}

#[tokio::test]
async fn runner_type_rules_are_enforced() {
    let server = server().await;
    let url = format!("{}/user/runners", server.api_url());
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
        let response = http()
            .post(&url)
            .header("PRIVATE-TOKEN", ADMIN)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        assert_eq!(body(response).await, expected, "{request}");
    }
}

#[tokio::test]
async fn non_admin_cannot_create_outside_its_projects_or_without_scope() {
    let server = server().await;
    let url = format!("{}/user/runners", server.api_url());
    let instance = http()
        .post(&url)
        .header("PRIVATE-TOKEN", CREATOR)
        .form(&[("runner_type", "instance_type")])
        .send()
        .await
        .unwrap();
    assert_eq!(instance.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(instance).await,
        json!({"message": "403 Forbidden - Insufficient permissions"})
    );
    let project = http()
        .post(&url)
        .header("PRIVATE-TOKEN", CREATOR)
        .form(&[("runner_type", "project_type"), ("project_id", "77")])
        .send()
        .await
        .unwrap();
    assert_eq!(project.status(), StatusCode::FORBIDDEN);
    let no_scope = http()
        .post(&url)
        .header("PRIVATE-TOKEN", DEV)
        .form(&[("runner_type", "instance_type")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_scope.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(no_scope).await["scope"], "api create_runner");
    let anonymous = http()
        .post(&url)
        .form(&[("runner_type", "instance_type")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn current_user_shows_is_admin_only_to_administrators() {
    let server = server().await;
    let url = format!("{}/user", server.api_url());
    let admin = http()
        .get(&url)
        .header("PRIVATE-TOKEN", ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    let admin = body(admin).await;
    assert_eq!(admin["username"], "admin");
    assert_eq!(admin["is_admin"], true);
    assert!(admin["id"].is_u64());
    server
        .admin()
        .add_token(&TokenSpec::user("plain", "glpat-plain", &[Scope::ReadUser]))
        .await
        .unwrap();
    let plain = http()
        .get(&url)
        .header("PRIVATE-TOKEN", "glpat-plain")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let plain = body(plain).await;
    assert_eq!(plain["username"], "plain");
    assert!(plain.get("is_admin").is_none(), "{plain}");
    let runner_only = http()
        .get(&url)
        .header("PRIVATE-TOKEN", DEV)
        .send()
        .await
        .unwrap();
    assert_eq!(runner_only.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(runner_only).await["scope"], "api read_api read_user");
}
