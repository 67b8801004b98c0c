//! Route tests over real HTTP (reqwest with rustls) against an in-process server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod jobs;
mod managers;
mod runners;
mod test_surface;
mod user_runners;
mod verify;

use gitlab_test_server::{NewRunner, RunnerRecord, Scope, TestServer, TokenSpec};
use serde_json::Value;

pub const ADMIN: &str = "glpat-admin-secret";
pub const DEV: &str = "glpat-dev-secret";
pub const READER: &str = "glpat-reader-secret";
pub const CREATOR: &str = "glpat-creator-secret";

/// A server with four tokens: `admin` (administrator, api), `dev` (manage_runner, owns
/// runners it is given), `reader` (read_api), `creator` (create_runner only).
pub async fn server() -> TestServer {
    let server = TestServer::start().await.unwrap();
    let admin = server.admin();
    admin
        .add_token(&TokenSpec::admin("admin", ADMIN))
        .await
        .unwrap();
    admin
        .add_token(&TokenSpec::user("dev", DEV, &[Scope::ManageRunner]))
        .await
        .unwrap();
    admin
        .add_token(&TokenSpec::user("reader", READER, &[Scope::ReadApi]))
        .await
        .unwrap();
    admin
        .add_token(&TokenSpec::user("creator", CREATOR, &[Scope::CreateRunner]))
        .await
        .unwrap();
    server
}

/// A runner owned by `dev` (and so also manageable by `admin`).
pub async fn dev_runner(server: &TestServer) -> RunnerRecord {
    server
        .admin()
        .create_runner(&NewRunner {
            description: "dev runner".into(),
            owners: vec!["dev".into(), "reader".into()],
            ..NewRunner::default()
        })
        .await
        .unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

pub async fn body(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}
