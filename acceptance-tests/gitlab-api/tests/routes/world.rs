//! What every route test starts from: a server holding known tokens ([`World`]), requests
//! to its API ([`Api`], [`Request`]) and their answers read whole ([`Reply`]), so that a test
//! states only the request it makes and what it expects back.

use gitlab_test_server::{
    AdminClient, FaultRule, JobRecord, LoggedRequest, NewJob, NewRunner, RunnerRecord, Scope, Seed,
    TestServer, TokenSpec,
};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

pub const ADMIN: &str = "glpat-admin-secret";
pub const DEV: &str = "glpat-dev-secret";
pub const READER: &str = "glpat-reader-secret";
pub const CREATOR: &str = "glpat-creator-secret";

/// `/runners/:id`, below the API root.
pub fn runner_path(id: u64) -> String {
    format!("/runners/{id}")
}

/// A running test server with its API client. [`World::start`] gives it four tokens:
/// `admin` (administrator, api), `dev` (manage_runner, owns runners it is given),
/// `reader` (read_api), `creator` (create_runner only).
pub struct World {
    server: TestServer,
    api: Api,
}

impl World {
    pub async fn start() -> Self {
        Self::with_tokens(TestServer::start().await.unwrap()).await
    }

    /// [`World::start`] over HTTPS: the API client trusts only the server's CA.
    pub async fn start_tls() -> Self {
        Self::with_tokens(TestServer::start_tls().await.unwrap()).await
    }

    async fn with_tokens(server: TestServer) -> Self {
        let world = Self::around(server);
        for token in [
            TokenSpec::admin("admin", ADMIN),
            TokenSpec::user("dev", DEV, &[Scope::ManageRunner]),
            TokenSpec::user("reader", READER, &[Scope::ReadApi]),
            TokenSpec::user("creator", CREATOR, &[Scope::CreateRunner]),
        ] {
            world.admin().add_token(&token).await.unwrap();
        }
        world
    }

    /// A world whose server holds `seed` (restored by every reset), and no other tokens.
    pub async fn seeded(seed: Seed) -> Self {
        let server = TestServer::start_with("127.0.0.1:0", seed).await.unwrap();
        Self::around(server)
    }

    fn around(server: TestServer) -> Self {
        let api = match server.ca_pem() {
            Some(ca_pem) => Api::trusting(server.api_url(), ca_pem),
            None => Api::at(server.api_url()),
        };
        Self { server, api }
    }

    /// `http(s)://127.0.0.1:PORT`, the GitLab instance URL.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The server itself.
    pub fn server(&self) -> &TestServer {
        &self.server
    }

    /// The test surface (`/-/test/…`).
    pub fn admin(&self) -> AdminClient {
        self.server.admin()
    }

    /// A runner owned by `dev` and `reader` (and so also manageable by `admin`).
    pub async fn dev_runner(&self) -> RunnerRecord {
        self.create_runner(&NewRunner {
            description: "dev runner".into(),
            owners: vec!["dev".into(), "reader".into()],
            ..NewRunner::default()
        })
        .await
    }

    pub async fn create_runner(&self, runner: &NewRunner) -> RunnerRecord {
        self.admin().create_runner(runner).await.unwrap()
    }

    pub async fn start_job(&self, runner_id: u64, job: &NewJob) -> JobRecord {
        self.admin().start_job(runner_id, job).await.unwrap()
    }

    /// Whether the server still holds runner `id`, read through the test surface.
    pub async fn runner_exists(&self, id: u64) -> bool {
        self.admin().runner(id).await.unwrap().is_some()
    }

    /// Whether runner `id` (which must exist) is paused, read through the test surface.
    pub async fn is_paused(&self, id: u64) -> bool {
        let runner = self.admin().runner(id).await.unwrap();
        runner
            .unwrap_or_else(|| panic!("runner {id} is gone"))
            .paused
    }

    pub async fn inject(&self, fault: &FaultRule) {
        self.admin().add_fault(fault).await.unwrap();
    }

    pub async fn request_log(&self) -> Vec<LoggedRequest> {
        self.admin().requests().await.unwrap()
    }

    /// `GET path` with `token` as `PRIVATE-TOKEN`.
    pub async fn get_as(&self, token: &str, path: &str) -> Reply {
        self.get(path).private_token(token).send().await
    }

    /// `DELETE path` with `token` as `PRIVATE-TOKEN`.
    pub async fn delete_as(&self, token: &str, path: &str) -> Reply {
        self.delete(path).private_token(token).send().await
    }

    /// `PUT path` with a form-encoded body and `token` as `PRIVATE-TOKEN`.
    pub async fn put_form_as<T: Serialize + ?Sized>(
        &self,
        token: &str,
        path: &str,
        form: &T,
    ) -> Reply {
        self.put(path).private_token(token).form(form).send().await
    }

    /// `POST path` with a form-encoded body and `token` as `PRIVATE-TOKEN`.
    pub async fn post_form_as<T: Serialize + ?Sized>(
        &self,
        token: &str,
        path: &str,
        form: &T,
    ) -> Reply {
        self.post(path).private_token(token).form(form).send().await
    }

    pub fn get(&self, path: &str) -> Request {
        self.api.get(path)
    }

    pub fn put(&self, path: &str) -> Request {
        self.api.put(path)
    }

    pub fn post(&self, path: &str) -> Request {
        self.api.post(path)
    }

    pub fn delete(&self, path: &str) -> Request {
        self.api.delete(path)
    }
}

/// Requests to one API root (`…/api/v4`). Every request opens its own connection, as a
/// fresh client would, so that a connection a fault dropped is never reused.
pub struct Api {
    root: String,
    http: reqwest::Client,
}

impl Api {
    /// Requests trusting no CA at all (fine for plain HTTP).
    pub fn at(root: impl Into<String>) -> Self {
        Self::with(root, fresh_connections().build().unwrap())
    }

    /// Requests trusting only the CA in `ca_pem`.
    pub fn trusting(root: impl Into<String>, ca_pem: &str) -> Self {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        Self::with(
            root,
            fresh_connections()
                .add_root_certificate(ca)
                .build()
                .unwrap(),
        )
    }

    /// Requests trusting the public web PKI (webpki roots) and nothing else.
    pub fn trusting_public_roots(root: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Self::with(root, http)
    }

    fn with(root: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            root: root.into(),
            http,
        }
    }

    pub fn get(&self, path: &str) -> Request {
        self.request(Method::GET, path)
    }

    pub fn put(&self, path: &str) -> Request {
        self.request(Method::PUT, path)
    }

    pub fn post(&self, path: &str) -> Request {
        self.request(Method::POST, path)
    }

    pub fn delete(&self, path: &str) -> Request {
        self.request(Method::DELETE, path)
    }

    fn request(&self, method: Method, path: &str) -> Request {
        Request(self.http.request(method, format!("{}{path}", self.root)))
    }
}

/// A rustls client with no built-in roots that never reuses a connection.
fn fresh_connections() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(0)
}

/// One request being built; [`Request::send`] reads the whole answer.
pub struct Request(reqwest::RequestBuilder);

impl Request {
    /// Authenticates with a `PRIVATE-TOKEN` header.
    pub fn private_token(self, token: &str) -> Self {
        Self(self.0.header("PRIVATE-TOKEN", token))
    }

    /// Authenticates with `Authorization: Bearer`.
    pub fn bearer(self, token: &str) -> Self {
        Self(self.0.bearer_auth(token))
    }

    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        Self(self.0.form(form))
    }

    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        Self(self.0.json(body))
    }

    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        Self(self.0.query(query))
    }

    /// Sends the request; a transport error fails the test.
    pub async fn send(self) -> Reply {
        self.try_send().await.unwrap()
    }

    /// Sends the request, giving back a transport error (for faults that drop the connection).
    pub async fn try_send(self) -> reqwest::Result<Reply> {
        let response = self.0.send().await?;
        Ok(Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await?,
        })
    }
}

/// An answer: status, headers and the body as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    pub fn text(&self) -> &str {
        &self.body
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_str(&self.body) {
            Ok(value) => value,
            Err(error) => panic!("the body is not JSON ({error}): {:?}", self.body),
        }
    }

    /// The body as JSON, after checking the status.
    #[track_caller]
    pub fn json_with_status(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        self.json()
    }

    /// Checks the status and that the body is exactly `expected`.
    #[track_caller]
    pub fn assert_json(&self, status: StatusCode, expected: Value) {
        assert_eq!(self.json_with_status(status), expected);
    }

    /// A header that must be present, as text.
    #[track_caller]
    pub fn header(&self, name: &str) -> String {
        match self.headers.get(name) {
            Some(value) => value.to_str().unwrap().to_owned(),
            None => panic!("no {name} header"),
        }
    }
}
