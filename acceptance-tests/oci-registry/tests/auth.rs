//! Basic auth and the Docker token flow over HTTP: challenges, token issuance, scope checks,
//! OAuth2 form grants, and keeping secrets out of the log.

// Helpers outside #[test] functions unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::http::{Client, Reply};
use common::sha256;
use oci_registry_test_server::{Auth, AuthKind, Options, TestRegistry};
use serde_json::Value;

const PASSWORD: &str = "s3cret-registry-password";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A registry with `auth`, and an anonymous client for it.
fn start_with(auth: Auth) -> (TestRegistry, Client) {
    let registry = TestRegistry::start(Options {
        auth,
        ..Default::default()
    })
    .unwrap();
    let api = Client::new(&registry);
    (registry, api)
}

fn bearer_registry(anonymous_pull: bool) -> (TestRegistry, Client) {
    start_with(Auth::Bearer {
        username: "robot".into(),
        password: PASSWORD.into(),
        anonymous_pull,
    })
}

/// `GET /token` for `scope` as `client`; returns the JSON answer (asserting 200).
fn token(client: &Client, scope: &str) -> Value {
    let reply = client.get(&format!("/token?service=oci-test-registry&scope={scope}"));
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// `client` presenting the access token of a `/token` answer.
fn with_token(client: &Client, t: &Value) -> Client {
    client.authorized(&format!("Bearer {}", t["token"].as_str().unwrap()))
}

/// The `WWW-Authenticate` challenge of a 401 answer.
#[track_caller]
fn challenge_of(reply: &Reply) -> &str {
    assert_eq!(reply.status, 401, "{reply:?}");
    reply
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("no challenge: {reply:?}"))
}

#[test]
fn basic_mode_challenges_and_checks_credentials() {
    let (registry, api) = start_with(Auth::Basic {
        username: "robot".into(),
        password: PASSWORD.into(),
    });
    let anonymous = api.get("/v2/");
    anonymous.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"oci-registry-test-server\"")
    );
    let wrong = api.authorized(&basic("robot", "nope")).get("/v2/");
    assert_eq!(wrong.status, 401);
    let good = api.authorized(&basic("robot", PASSWORD)).get("/v2/");
    assert_eq!(good.status, 200);
    let tags = api.get("/v2/a/tags/list");
    assert_eq!(tags.status, 401, "auth comes before NAME_UNKNOWN");
    let log = registry.requests();
    assert_eq!(log[1].auth, AuthKind::Basic);
    assert_eq!(log[2].user.as_deref(), Some("robot"));
    assert!(!format!("{log:?} {registry:?}").contains(PASSWORD));
}

#[test]
fn bearer_mode_challenges_name_the_realm_service_and_scope() {
    let (registry, api) = bearer_registry(false);
    let base = api.get("/v2/");
    base.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        base.header("www-authenticate").unwrap(),
        format!(
            "Bearer realm=\"{}/token\",service=\"oci-test-registry\"",
            registry.base_url()
        )
    );
    // Each route's challenge names the scope it needs.
    for (method, path, actions) in [
        ("GET", "/v2/charts/x/manifests/v1", "pull"),
        ("POST", "/v2/charts/x/blobs/uploads/", "pull,push"),
        ("DELETE", "/v2/charts/x/manifests/v1", "delete"),
    ] {
        let reply = api.request(method, path, &[], b"");
        let challenge = challenge_of(&reply);
        assert!(
            challenge.ends_with(&format!(",scope=\"repository:charts/x:{actions}\"")),
            "{method} {path}: {challenge}"
        );
    }
    let basic_direct = api.authorized(&basic("robot", PASSWORD)).get("/v2/");
    assert_eq!(
        basic_direct.status, 401,
        "bearer mode takes tokens, not basic credentials"
    );
}

#[test]
fn tokens_grant_exactly_their_scopes() {
    let (_registry, api) = bearer_registry(false);
    let robot = api.authorized(&basic("robot", PASSWORD));
    let pull_only = token(&robot, "repository:charts/x:pull");
    assert_eq!(pull_only["token"], pull_only["access_token"]);
    assert_eq!(pull_only["expires_in"], 300);
    assert!(pull_only["issued_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pull_only["scope"], "repository:charts/x:pull");

    let puller = with_token(&api, &pull_only);
    assert_eq!(puller.get("/v2/").status, 200);
    let read = puller.get("/v2/charts/x/tags/list");
    // Authorized, then not found.
    read.assert_error(404, "NAME_UNKNOWN");
    let write = puller.post("/v2/charts/x/blobs/uploads/", b"");
    let challenge = challenge_of(&write);
    assert!(
        challenge.contains("scope=\"repository:charts/x:pull,push\"")
            && challenge.ends_with(",error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(puller.get("/v2/charts/y/tags/list").status, 401);

    let pusher = with_token(&api, &token(&robot, "repository:charts/x:pull,push"));
    let digest = sha256(b"blob");
    let created = pusher.post(
        &format!("/v2/charts/x/blobs/uploads/?digest={digest}"),
        b"blob",
    );
    assert_eq!(created.status, 201);

    let unknown = api.authorized("Bearer not-a-token").get("/v2/");
    assert!(
        challenge_of(&unknown).ends_with(",error=\"invalid_token\""),
        "{unknown:?}"
    );
}

#[test]
fn token_service_refuses_wrong_credentials_and_services() {
    let (_registry, api) = bearer_registry(false);
    api.authorized(&basic("robot", "wrong"))
        .get("/token?service=oci-test-registry&scope=repository:a:pull")
        .assert_error(401, "UNAUTHORIZED");
    let service = api
        .authorized(&basic("robot", PASSWORD))
        .get("/token?service=elsewhere");
    assert_eq!(service.status, 400);
    service.error_code();
}

#[test]
fn anonymous_tokens_pull_only_when_allowed() {
    let (_open, open_api) = bearer_registry(true);
    let anonymous = token(&open_api, "repository:a:pull,push");
    assert_eq!(anonymous["scope"], "repository:a:pull");
    let reader = with_token(&open_api, &anonymous);
    assert_eq!(reader.get("/v2/a/tags/list").status, 404);
    assert_eq!(reader.post("/v2/a/blobs/uploads/", b"").status, 401);

    let (_closed, closed_api) = bearer_registry(false);
    let nothing = token(&closed_api, "repository:a:pull");
    assert_eq!(nothing["scope"], "");
    let denied = with_token(&closed_api, &nothing).get("/v2/a/tags/list");
    assert!(
        challenge_of(&denied).contains("insufficient_scope"),
        "{denied:?}"
    );
}

#[test]
fn mounts_need_pull_on_the_source_repository() {
    let (registry, api) = bearer_registry(false);
    let robot = api.authorized(&basic("robot", PASSWORD));
    let source = token(&robot, "repository:source:pull,push");
    let digest = sha256(b"layer");
    let pushed = with_token(&api, &source).post(
        &format!("/v2/source/blobs/uploads/?digest={digest}"),
        b"layer",
    );
    assert_eq!(pushed.status, 201);
    let mount = |t: &Value| {
        with_token(&api, t).post(
            &format!("/v2/target/blobs/uploads/?mount={digest}&from=source"),
            b"",
        )
    };
    let target_only = token(&robot, "repository:target:pull,push");
    assert_eq!(
        mount(&target_only).status,
        202,
        "no pull on source: a new session instead"
    );
    assert!(registry.blob("target", &digest).is_none());
    let both = robot
        .get("/token?service=oci-test-registry&scope=repository:target:pull,push&scope=repository:source:pull")
        .json();
    assert_eq!(
        both["scope"],
        "repository:target:pull,push repository:source:pull"
    );
    assert_eq!(mount(&both).status, 201);
    assert!(registry.blob("target", &digest).is_some());
}

#[test]
fn oauth2_form_grants_password_and_refresh_token() {
    let (registry, api) = bearer_registry(false);
    let form = |body: &str| {
        api.request(
            "POST",
            "/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    let granted = form(&format!(
        "grant_type=password&username=robot&password={PASSWORD}&service=oci-test-registry&client_id=test&access_type=offline&scope=repository%3Aa%3Apull+repository%3Ab%3Apush"
    ));
    assert_eq!(granted.status, 200, "{granted:?}");
    let body = granted.json();
    assert_eq!(body["scope"], "repository:a:pull repository:b:push");
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(refresh, access);

    let refreshed = form(&format!(
        "grant_type=refresh_token&refresh_token={refresh}&service=oci-test-registry&scope=repository%3Aa%3Apull"
    ));
    assert_eq!(refreshed.status, 200);
    let token = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let read = api
        .authorized(&format!("Bearer {token}"))
        .get("/v2/a/tags/list");
    assert_eq!(read.status, 404);

    // Refused grants: wrong password and unknown refresh token (401), unsupported grant
    // type and missing password (400).
    for (body, status) in [
        (
            "grant_type=password&username=robot&password=wrong&service=oci-test-registry",
            401,
        ),
        ("grant_type=refresh_token&refresh_token=unknown", 401),
        ("grant_type=client_credentials", 400),
        ("grant_type=password&username=robot", 400),
    ] {
        assert_eq!(form(body).status, status, "{body}");
    }

    let log = registry.requests();
    assert_eq!(
        log[0].user.as_deref(),
        Some("robot"),
        "the form's user is logged"
    );
    let text = format!("{log:?}");
    for secret in [PASSWORD, refresh.as_str(), access.as_str(), token.as_str()] {
        assert!(!text.contains(secret), "{text}");
    }
}
