//! Basic auth and the Docker token flow over HTTP: challenges, token issuance, scope checks,
//! OAuth2 form grants, and keeping secrets out of the log.

// Helpers outside #[test] functions unwrap like tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{send, sha256};
use oci_registry_test_server::{Auth, AuthKind, Options, TestRegistry};
use serde_json::Value;

const PASSWORD: &str = "s3cret-registry-password";

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn bearer_registry(anonymous_pull: bool) -> TestRegistry {
    TestRegistry::start(Options {
        auth: Auth::Bearer {
            username: "robot".into(),
            password: PASSWORD.into(),
            anonymous_pull,
        },
        ..Default::default()
    })
    .unwrap()
}

/// `GET /token` with optional basic credentials; returns the JSON answer (asserting 200).
fn token(registry: &TestRegistry, credentials: Option<&str>, scope: &str) -> Value {
    let path = format!(
        "{}/token?service=oci-test-registry&scope={scope}",
        registry.base_url()
    );
    let headers: Vec<(&str, &str)> = credentials
        .map(|c| ("authorization", c))
        .into_iter()
        .collect();
    let reply = send("GET", &path, &headers, b"");
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

fn with_token(t: &Value) -> String {
    format!("Bearer {}", t["token"].as_str().unwrap())
}

#[test]
fn basic_mode_challenges_and_checks_credentials() {
    let registry = TestRegistry::start(Options {
        auth: Auth::Basic {
            username: "robot".into(),
            password: PASSWORD.into(),
        },
        ..Default::default()
    })
    .unwrap();
    let base = format!("{}/v2/", registry.base_url());
    let anonymous = send("GET", &base, &[], b"");
    assert_eq!(
        (anonymous.status, anonymous.error_code().as_str()),
        (401, "UNAUTHORIZED")
    );
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"oci-registry-test-server\"")
    );
    let wrong = send(
        "GET",
        &base,
        &[("authorization", &basic("robot", "nope"))],
        b"",
    );
    assert_eq!(wrong.status, 401);
    let good = send(
        "GET",
        &base,
        &[("authorization", &basic("robot", PASSWORD))],
        b"",
    );
    assert_eq!(good.status, 200);
    let tags = send(
        "GET",
        &format!("{}/v2/a/tags/list", registry.base_url()),
        &[],
        b"",
    );
    assert_eq!(tags.status, 401, "auth comes before NAME_UNKNOWN");
    let log = registry.requests();
    assert_eq!(log[1].auth, AuthKind::Basic);
    assert_eq!(log[2].user.as_deref(), Some("robot"));
    assert!(!format!("{log:?} {registry:?}").contains(PASSWORD));
}

#[test]
fn bearer_mode_challenges_name_the_realm_service_and_scope() {
    let registry = bearer_registry(false);
    let base = send("GET", &format!("{}/v2/", registry.base_url()), &[], b"");
    assert_eq!(
        (base.status, base.error_code().as_str()),
        (401, "UNAUTHORIZED")
    );
    assert_eq!(
        base.header("www-authenticate").unwrap(),
        format!(
            "Bearer realm=\"{}/token\",service=\"oci-test-registry\"",
            registry.base_url()
        )
    );
    let pull = send(
        "GET",
        &format!("{}/v2/charts/x/manifests/v1", registry.base_url()),
        &[],
        b"",
    );
    assert!(
        pull.header("www-authenticate")
            .unwrap()
            .ends_with(",scope=\"repository:charts/x:pull\"")
    );
    let push = send(
        "POST",
        &format!("{}/v2/charts/x/blobs/uploads/", registry.base_url()),
        &[],
        b"",
    );
    assert!(
        push.header("www-authenticate")
            .unwrap()
            .ends_with(",scope=\"repository:charts/x:pull,push\"")
    );
    let delete = send(
        "DELETE",
        &format!("{}/v2/charts/x/manifests/v1", registry.base_url()),
        &[],
        b"",
    );
    assert!(
        delete
            .header("www-authenticate")
            .unwrap()
            .ends_with(",scope=\"repository:charts/x:delete\"")
    );
    let basic_direct = send(
        "GET",
        &format!("{}/v2/", registry.base_url()),
        &[("authorization", &basic("robot", PASSWORD))],
        b"",
    );
    assert_eq!(
        basic_direct.status, 401,
        "bearer mode takes tokens, not basic credentials"
    );
}

#[test]
fn tokens_grant_exactly_their_scopes() {
    let registry = bearer_registry(false);
    let credentials = basic("robot", PASSWORD);
    let pull_only = token(&registry, Some(&credentials), "repository:charts/x:pull");
    assert_eq!(pull_only["token"], pull_only["access_token"]);
    assert_eq!(pull_only["expires_in"], 300);
    assert!(pull_only["issued_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pull_only["scope"], "repository:charts/x:pull");

    let auth = with_token(&pull_only);
    let base = send(
        "GET",
        &format!("{}/v2/", registry.base_url()),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(base.status, 200);
    let read = send(
        "GET",
        &format!("{}/v2/charts/x/tags/list", registry.base_url()),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        (read.status, read.error_code().as_str()),
        (404, "NAME_UNKNOWN"),
        "authorized, then not found"
    );
    let write = send(
        "POST",
        &format!("{}/v2/charts/x/blobs/uploads/", registry.base_url()),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(write.status, 401);
    let challenge = write.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("scope=\"repository:charts/x:pull,push\"")
            && challenge.ends_with(",error=\"insufficient_scope\""),
        "{challenge}"
    );
    let other_repo = send(
        "GET",
        &format!("{}/v2/charts/y/tags/list", registry.base_url()),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(other_repo.status, 401);

    let push = token(
        &registry,
        Some(&credentials),
        "repository:charts/x:pull,push",
    );
    let digest = sha256(b"blob");
    let created = send(
        "POST",
        &format!(
            "{}/v2/charts/x/blobs/uploads/?digest={digest}",
            registry.base_url()
        ),
        &[("authorization", &with_token(&push))],
        b"blob",
    );
    assert_eq!(created.status, 201);

    let unknown = send(
        "GET",
        &format!("{}/v2/", registry.base_url()),
        &[("authorization", "Bearer not-a-token")],
        b"",
    );
    assert_eq!(unknown.status, 401);
    assert!(
        unknown
            .header("www-authenticate")
            .unwrap()
            .ends_with(",error=\"invalid_token\"")
    );
}

#[test]
fn token_service_refuses_wrong_credentials_and_services() {
    let registry = bearer_registry(false);
    let wrong = send(
        "GET",
        &format!(
            "{}/token?service=oci-test-registry&scope=repository:a:pull",
            registry.base_url()
        ),
        &[("authorization", &basic("robot", "wrong"))],
        b"",
    );
    assert_eq!(
        (wrong.status, wrong.error_code().as_str()),
        (401, "UNAUTHORIZED")
    );
    let service = send(
        "GET",
        &format!("{}/token?service=elsewhere", registry.base_url()),
        &[("authorization", &basic("robot", PASSWORD))],
        b"",
    );
    assert_eq!(service.status, 400);
    service.error_code();
}

#[test]
fn anonymous_tokens_pull_only_when_allowed() {
    let open = bearer_registry(true);
    let anonymous = token(&open, None, "repository:a:pull,push");
    assert_eq!(anonymous["scope"], "repository:a:pull");
    let auth = with_token(&anonymous);
    assert_eq!(
        send(
            "GET",
            &format!("{}/v2/a/tags/list", open.base_url()),
            &[("authorization", &auth)],
            b""
        )
        .status,
        404
    );
    assert_eq!(
        send(
            "POST",
            &format!("{}/v2/a/blobs/uploads/", open.base_url()),
            &[("authorization", &auth)],
            b""
        )
        .status,
        401
    );

    let closed = bearer_registry(false);
    let nothing = token(&closed, None, "repository:a:pull");
    assert_eq!(nothing["scope"], "");
    let denied = send(
        "GET",
        &format!("{}/v2/a/tags/list", closed.base_url()),
        &[("authorization", &with_token(&nothing))],
        b"",
    );
    assert_eq!(denied.status, 401);
    assert!(
        denied
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
}

#[test]
fn mounts_need_pull_on_the_source_repository() {
    let registry = bearer_registry(false);
    let credentials = basic("robot", PASSWORD);
    let source = token(&registry, Some(&credentials), "repository:source:pull,push");
    let digest = sha256(b"layer");
    let pushed = send(
        "POST",
        &format!(
            "{}/v2/source/blobs/uploads/?digest={digest}",
            registry.base_url()
        ),
        &[("authorization", &with_token(&source))],
        b"layer",
    );
    assert_eq!(pushed.status, 201);
    let mount = |t: &Value| {
        send(
            "POST",
            &format!(
                "{}/v2/target/blobs/uploads/?mount={digest}&from=source",
                registry.base_url()
            ),
            &[("authorization", &with_token(t))],
            b"",
        )
    };
    let target_only = token(&registry, Some(&credentials), "repository:target:pull,push");
    assert_eq!(
        mount(&target_only).status,
        202,
        "no pull on source: a new session instead"
    );
    assert!(registry.blob("target", &digest).is_none());
    let path = format!(
        "{}/token?service=oci-test-registry&scope=repository:target:pull,push&scope=repository:source:pull",
        registry.base_url()
    );
    let both = send("GET", &path, &[("authorization", &credentials)], b"").json();
    assert_eq!(
        both["scope"],
        "repository:target:pull,push repository:source:pull"
    );
    assert_eq!(mount(&both).status, 201);
    assert!(registry.blob("target", &digest).is_some());
}

#[test]
fn oauth2_form_grants_password_and_refresh_token() {
    let registry = bearer_registry(false);
    let form = |body: &str| {
        send(
            "POST",
            &format!("{}/token", registry.base_url()),
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
    let read = send(
        "GET",
        &format!("{}/v2/a/tags/list", registry.base_url()),
        &[("authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(read.status, 404);

    assert_eq!(
        form("grant_type=password&username=robot&password=wrong&service=oci-test-registry").status,
        401
    );
    assert_eq!(
        form("grant_type=refresh_token&refresh_token=unknown").status,
        401
    );
    assert_eq!(form("grant_type=client_credentials").status, 400);
    assert_eq!(form("grant_type=password&username=robot").status, 400);

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
