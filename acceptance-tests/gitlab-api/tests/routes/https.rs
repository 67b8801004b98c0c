//! HTTPS mode: a server behind its own CA, trusted by clients given that CA and nobody else.

use std::error::Error as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gitlab_test_server::{
    AdminClient, AdminClientError, Fault, FaultRule, NewJob, TestServer, TokenSpec,
};
use reqwest::StatusCode;
use serde_json::json;
use test_server_kit::ServerIdentity;

use crate::world::{ADMIN, Api, Reply, World, runner_path};

/// The whole chain of a transport error, for assertions on why it failed.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = format!("{error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A request that must fail before reaching the API because the server's certificate is not
/// trusted; returns the error chain.
async fn refused(api: &Api, path: &str) -> String {
    let error = api
        .get(path)
        .private_token(ADMIN)
        .try_send()
        .await
        .map(|reply: Reply| reply.status)
        .expect_err("an untrusted server must be refused");
    error_chain(&error)
}

#[tokio::test]
async fn https_server_answers_a_client_trusting_only_its_ca() {
    let world = World::start_tls().await;
    let port = world.server().address().port();
    assert_eq!(world.url(), format!("https://127.0.0.1:{port}"));
    assert_eq!(
        world.server().api_url(),
        format!("https://127.0.0.1:{port}/api/v4")
    );
    let ca_pem = world.server().ca_pem().expect("an HTTPS server has a CA");
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{ca_pem}"
    );

    let runner = world.dev_runner().await;
    world
        .start_job(runner.id, &NewJob::running(7, "build"))
        .await;
    let details = world
        .get_as(ADMIN, &runner_path(runner.id))
        .await
        .json_with_status(StatusCode::OK);
    assert_eq!(details["id"], runner.id);
    assert_eq!(details["description"], "dev runner");

    // URLs the server hands out name the HTTPS instance.
    let jobs = world
        .get_as(ADMIN, &format!("{}/jobs", runner_path(runner.id)))
        .await;
    let web_url = jobs.json_with_status(StatusCode::OK)[0]["web_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        web_url.starts_with(&format!("{}/", world.url())),
        "{web_url}"
    );
    assert!(
        jobs.header("link").contains(&world.server().api_url()),
        "{}",
        jobs.header("link")
    );

    // `POST /runners/verify` (the runner's own call) works as well.
    let verify = world
        .post("/runners/verify")
        .form(&[("token", runner.token.as_str())])
        .send()
        .await;
    assert_eq!(verify.json_with_status(StatusCode::OK)["id"], runner.id);

    let log = world.request_log().await;
    let statuses: Vec<Option<u16>> = log.iter().map(|request| request.status).collect();
    assert_eq!(statuses, [Some(200), Some(200), Some(200)], "{log:?}");
}

#[tokio::test]
async fn clients_not_trusting_the_ca_are_refused() {
    let world = World::start_tls().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let api_url = world.server().api_url();

    let no_roots = refused(&Api::at(&api_url), &path).await;
    assert!(no_roots.contains("UnknownIssuer"), "{no_roots}");

    let public_roots = refused(&Api::trusting_public_roots(&api_url), &path).await;
    assert!(public_roots.contains("UnknownIssuer"), "{public_roots}");

    // Another CA with the very same names is still another CA.
    let impostor = test_server_kit::tls::generate(ServerIdentity {
        ca_common_name: "gitlab-test-server CA",
        common_name: "gitlab-test-server",
        extra_names: &[],
    })
    .unwrap();
    let other_ca = refused(&Api::trusting(&api_url, &impostor.ca_pem), &path).await;
    assert!(
        other_ca.contains("BadSignature") || other_ca.contains("UnknownIssuer"),
        "{other_ca}"
    );

    // Plain HTTP on the HTTPS port gets no API answer either.
    let plain_url = api_url.replacen("https://", "http://", 1);
    let plain = Api::at(plain_url)
        .get(&path)
        .private_token(ADMIN)
        .try_send()
        .await;
    match plain {
        Err(_) => {}
        Ok(reply) => assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}"),
    }

    // None of them reached the API, and the server still serves a trusting client.
    assert!(world.request_log().await.is_empty());
    assert_eq!(world.get_as(ADMIN, &path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_surface_works_over_https() {
    let server = TestServer::start_tls().await.unwrap();
    let admin = server.admin();
    admin
        .add_token(&TokenSpec::admin("root", "glpat-root"))
        .await
        .unwrap();
    let runner = admin
        .create_runner(&gitlab_test_server::NewRunner::default())
        .await
        .unwrap();
    assert_eq!(
        admin.runner(runner.id).await.unwrap().unwrap().id,
        runner.id
    );
    let job = admin
        .start_job(runner.id, &NewJob::running(3, "test"))
        .await
        .unwrap();
    assert_eq!(admin.finish_job(job.id).await.unwrap().id, job.id);
    assert!(admin.delete_runner(runner.id).await.unwrap());
    assert!(admin.runner(runner.id).await.unwrap().is_none());

    // A client built from the URL and the CA alone (as for the binary) works too.
    let from_pem = AdminClient::with_ca(server.url(), server.ca_pem().unwrap()).unwrap();
    from_pem.reset().await.unwrap();
    assert!(from_pem.requests().await.unwrap().is_empty());

    // Without the CA the test surface is refused like any other client.
    let untrusting = AdminClient::new(server.url());
    let error = untrusting.reset().await.unwrap_err();
    assert!(matches!(error, AdminClientError::Http { .. }), "{error:?}");
}

#[test]
fn admin_client_rejects_a_ca_that_is_not_pem() {
    let error = AdminClient::with_ca("https://127.0.0.1:1", "not a certificate").unwrap_err();
    assert!(
        matches!(error, AdminClientError::NoCaCertificate),
        "{error:?}"
    );
}

#[tokio::test]
async fn plain_server_has_no_ca() {
    let server = TestServer::start().await.unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.ca_pem(), None);
}

#[tokio::test]
async fn faults_apply_over_https() {
    let world = World::start_tls().await;
    let runner = world.dev_runner().await;
    let path = runner_path(runner.id);
    let api_path = format!("/api/v4{path}");
    world
        .inject(&FaultRule::new(
            "GET",
            api_path.clone(),
            1,
            Fault::Status {
                code: 500,
                body: None,
            },
        ))
        .await;
    world.get_as(ADMIN, &path).await.assert_json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "500 Internal Server Error"}),
    );

    world
        .inject(&FaultRule::new("PUT", api_path, 1, Fault::DropConnection))
        .await;
    let pause = || {
        world
            .put(&path)
            .private_token(ADMIN)
            .form(&[("paused", "true")])
    };
    let dropped = pause().try_send().await;
    let error = dropped.expect_err("the connection should have been dropped");
    assert!(!error.is_status(), "{error}");
    assert!(!world.is_paused(runner.id).await);
    assert_eq!(pause().send().await.status, StatusCode::OK);
    assert!(world.is_paused(runner.id).await);

    let log = world.request_log().await;
    let seen: Vec<(&str, Option<u16>, Option<&Fault>)> = log
        .iter()
        .map(|request| {
            (
                request.method.as_str(),
                request.status,
                request.fault.as_ref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", Some(500), log[0].fault.as_ref()),
            ("PUT", None, Some(&Fault::DropConnection)),
            ("PUT", Some(200), None),
        ]
    );
    assert!(matches!(
        log[0].fault,
        Some(Fault::Status { code: 500, .. })
    ));
}

/// The binary, killed when dropped (also when an assertion fails).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_with_tls_prints_its_url_and_a_usable_ca() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_gitlab-test-server"))
            .args(["--listen", "127.0.0.1:0", "--tls"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (url, ca_pem) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let url = lines.next().unwrap().unwrap();
        let mut ca_pem = String::new();
        for line in lines {
            let line = line.unwrap();
            ca_pem.push_str(&line);
            ca_pem.push('\n');
            if line == "-----END CERTIFICATE-----" {
                break;
            }
        }
        (url, ca_pem)
    })
    .await
    .unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url:?}");
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"),
        "{ca_pem}"
    );
    let admin = AdminClient::with_ca(&url, &ca_pem).unwrap();
    admin
        .add_token(&TokenSpec::admin("root", "glpat-bin"))
        .await
        .unwrap();
    let runner = admin
        .create_runner(&gitlab_test_server::NewRunner::default())
        .await
        .unwrap();
    let reply = Api::trusting(format!("{url}/api/v4"), &ca_pem)
        .get(&runner_path(runner.id))
        .private_token("glpat-bin")
        .send()
        .await;
    assert_eq!(reply.json_with_status(StatusCode::OK)["id"], runner.id);
    let untrusted = Api::at(format!("{url}/api/v4"))
        .get(&runner_path(runner.id))
        .private_token("glpat-bin")
        .try_send()
        .await;
    assert!(untrusted.is_err());
}
