//! Redirects: followed within the origin a request went to; refused — and nothing sent — when
//! they point at another scheme, host or port. A second test server that knows the same tokens
//! stands "elsewhere": its request log would show any token that reached it.

use gitlab_runner_api::GitlabError;
use gitlab_test_server::{Fault, FaultRule};

use crate::world::{ADMIN, DEV, World, assert_no_secret, runner_path};

fn redirect(code: u16, location: String) -> Fault {
    Fault::Redirect { code, location }
}

#[track_caller]
fn assert_refused(error: &GitlabError, expected_to: &str) {
    match error {
        GitlabError::RedirectRefused { to, .. } => assert_eq!(to, expected_to),
        other => panic!("expected RedirectRefused, got {other:?}"),
    }
    assert!(!error.is_retryable(), "{error}");
    let text = error.to_string();
    assert!(text.contains(expected_to), "{text}");
    assert!(text.contains("never sent across origins"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn a_redirect_to_another_port_carries_neither_the_access_token_nor_the_runner_token() {
    let world = World::start().await;
    let elsewhere = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let moved_runner = format!("{}{path}", elsewhere.url());
    let moved_verify = format!("{}/api/v4/runners/verify", elsewhere.url());
    world
        .inject(&FaultRule::new(
            "PUT",
            path.clone(),
            1,
            redirect(307, moved_runner.clone()),
        ))
        .await;
    world
        .inject(&FaultRule::new(
            "POST",
            "/api/v4/runners/verify",
            1,
            redirect(308, moved_verify.clone()),
        ))
        .await;

    let pause = world.client(DEV).set_paused(runner.id, true).await;
    assert_refused(&pause.unwrap_err(), &moved_runner);
    let verify = world.client(ADMIN).verify_runner(&runner.token).await;
    let error = verify.unwrap_err();
    assert_refused(&error, &moved_verify);
    assert!(!error.to_string().contains(&runner.token), "{error}");

    assert_eq!(elsewhere.request_log().await, Vec::new());
    assert_eq!(world.logged_statuses().await, vec![Some(307), Some(308)]);
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_named_without_its_query_or_credentials() {
    let world = World::start().await;
    let elsewhere = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    // Same port as `elsewhere`, but `localhost` is another host than `127.0.0.1`.
    let location = format!(
        "http://someone:hunter2@localhost:{}{path}?private_token=glpat-in-query#frag",
        elsewhere.port()
    );
    world
        .inject(&FaultRule::new(
            "GET",
            path.clone(),
            1,
            redirect(302, location),
        ))
        .await;
    let error = world.client(ADMIN).get_runner(runner.id).await.unwrap_err();
    let shown = format!("http://localhost:{}{path}", elsewhere.port());
    assert_refused(&error, &shown);
    let text = error.to_string();
    for hidden in [
        "hunter2",
        "someone",
        "private_token",
        "glpat-in-query",
        "frag",
    ] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
    assert_eq!(elsewhere.request_log().await, Vec::new());
}

#[tokio::test]
async fn https_to_http_downgrades_are_refused() {
    let world = World::start_tls().await;
    let elsewhere = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    // To a plain-HTTP server, and to plain HTTP on GitLab's own host and port.
    let to_other = format!("http://127.0.0.1:{}{path}", elsewhere.port());
    let to_same_port = format!("http://127.0.0.1:{}{path}", world.port());
    for location in [&to_other, &to_same_port] {
        world
            .inject(&FaultRule::new(
                "PUT",
                path.clone(),
                1,
                redirect(301, location.clone()),
            ))
            .await;
        let error = world
            .client(DEV)
            .set_paused(runner.id, true)
            .await
            .unwrap_err();
        assert_refused(&error, location);
    }
    assert_eq!(elsewhere.request_log().await, Vec::new());
    // Only the two redirected requests reached GitLab: no plain-HTTP attempt on its port.
    assert_eq!(world.logged_statuses().await, vec![Some(301), Some(301)]);
    assert!(!world.is_paused(runner.id).await);
}

#[tokio::test]
async fn same_origin_redirects_are_followed_with_the_token_and_body() {
    let world = World::start().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    for location in [format!("{}{path}", world.url()), path.clone()] {
        world
            .inject(&FaultRule::new(
                "PUT",
                path.clone(),
                1,
                redirect(307, location),
            ))
            .await;
    }
    // The first PUT is redirected twice (absolute, then relative Location), the second not.
    let client = world.client(DEV);
    let paused = client.set_paused(runner.id, true).await.unwrap();
    assert!(paused.paused);
    let resumed = client.set_paused(runner.id, false).await.unwrap();
    assert!(!resumed.paused);
    let log = world.request_log().await;
    let seen: Vec<(Option<u16>, Option<&str>)> = log
        .iter()
        .map(|entry| (entry.status, entry.token_name.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(307), Some("dev")),
            (Some(307), Some("dev")),
            (Some(200), Some("dev")),
            (Some(200), Some("dev")),
        ]
    );
}
