//! What the `gitlabrunner_runner` resource asks of GitLab: update every setting, reset the
//! token, and errors that name the scope needed.

use gitlab_runner_api::{
    AccessLevel, CreateRunner, ExposeSecret, GitlabError, RunnerScope, RunnerSettings,
};
use gitlab_test_server::{Scope, TokenSpec};

use crate::world::{ADMIN, DEV, READER, World, assert_no_secret};

#[tokio::test]
async fn update_runner_changes_every_setting_and_returns_the_details() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let settings = RunnerSettings {
        description: Some("renamed".into()),
        tag_list: Some(vec!["k8s".into(), "arm64".into()]),
        run_untagged: Some(false),
        locked: Some(true),
        paused: Some(true),
        access_level: Some(AccessLevel::RefProtected),
        maximum_timeout: Some(3600),
        maintenance_note: Some("terraform".into()),
    };
    let updated = world
        .client(DEV)
        .update_runner(runner.id, &settings)
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("renamed"));
    assert_eq!(updated.tag_list, vec!["k8s", "arm64"]);
    assert_eq!(updated.run_untagged, Some(false));
    assert_eq!(updated.locked, Some(true));
    assert!(updated.paused);
    assert_eq!(updated.access_level.as_deref(), Some("ref_protected"));
    assert_eq!(updated.maximum_timeout, Some(3600));
    assert_eq!(updated.maintenance_note.as_deref(), Some("terraform"));
    let stored = world.admin().runner(runner.id).await.unwrap().unwrap();
    assert_eq!(stored.maintenance_note.as_deref(), Some("terraform"));
}

#[tokio::test]
async fn reset_gives_a_new_token_and_the_old_one_stops_working() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let client = world.client(DEV);
    let reset = client.reset_runner_token(runner.id).await.unwrap();
    let token = reset.token.expose_secret();
    assert!(token.starts_with("glrt-"));
    assert_ne!(token, runner.token);
    assert!(!format!("{reset:?}").contains(token));
    assert!(matches!(
        client.verify_runner(&runner.token).await,
        Err(GitlabError::Forbidden { .. })
    ));
    assert_eq!(client.verify_runner(token).await.unwrap().id, runner.id);
}

#[tokio::test]
async fn refusals_name_the_scope_and_a_missing_runner_is_404() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let read_only = world
        .client(READER)
        .reset_runner_token(runner.id)
        .await
        .unwrap_err();
    assert!(matches!(read_only, GitlabError::Forbidden { .. }));
    assert!(
        read_only.to_string().contains("`manage_runner` or `api`"),
        "{read_only}"
    );
    let unknown = world
        .client("glpat-nobody")
        .create_user_runner(&CreateRunner::default())
        .await
        .unwrap_err();
    assert!(matches!(unknown, GitlabError::Unauthorized { .. }));
    assert!(
        unknown
            .to_string()
            .contains("`create_runner` or `api` scope"),
        "{unknown}"
    );
    assert_no_secret(&unknown.to_string());
    world
        .admin()
        .add_token(&TokenSpec::user(
            "manager",
            "glpat-manager",
            &[Scope::ManageRunner],
        ))
        .await
        .unwrap();
    let no_create = world
        .client("glpat-manager")
        .create_user_runner(&CreateRunner {
            scope: RunnerScope::Group(4),
            ..CreateRunner::default()
        })
        .await
        .unwrap_err();
    assert!(
        no_create
            .to_string()
            .contains("`create_runner` or `api` scope"),
        "{no_create}"
    );
    let gone = world
        .client(ADMIN)
        .reset_runner_token(987_654)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}
