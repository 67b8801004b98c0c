//! What every test against the GitLab API test server starts from: the server with three
//! tokens, a runner, clients for any token, and the server-side facts tests check afterwards.

use std::future::Future;
use std::time::Duration;

use gitlab_runner_api::{
    CancellationToken, ClientConfig, GitlabClient, GitlabError, RetryPolicy, SecretString, retry,
};
use gitlab_test_server::{
    AdminClient, Fault, FaultRule, JobRecord, LoggedRequest, NewJob, NewRunner, RunnerRecord,
    Scope, TestServer, TokenSpec,
};

pub const ADMIN: &str = "glpat-admin-token-value";
pub const DEV: &str = "glpat-dev-token-value";
pub const READER: &str = "glpat-reader-token-value";

/// `/api/v4/runners/:id`, as fault rules and the request log spell it.
pub fn runner_path(id: u64) -> String {
    format!("/api/v4/runners/{id}")
}

/// `/api/v4/runners/:id/jobs`.
pub fn jobs_path(runner_id: u64) -> String {
    format!("{}/jobs", runner_path(runner_id))
}

/// A fault answering `code` with GitLab's default body for it.
pub fn status_fault(code: u16) -> Fault {
    Fault::Status { code, body: None }
}

/// Retries that wait 20 ms at first and 200 ms at most, so that tests stay quick.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

/// [`retry`] with [`fast_policy`], no deadline and no cancellation.
pub async fn retry_quickly<T, F, Fut>(attempt: F) -> Result<T, GitlabError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GitlabError>>,
{
    retry(&fast_policy(), None, &CancellationToken::new(), attempt).await
}

/// A token that a background task cancels after `delay`.
pub fn cancelled_after(delay: Duration) -> CancellationToken {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        canceller.cancel();
    });
    cancel
}

#[track_caller]
pub fn assert_no_secret(text: &str) {
    for secret in [ADMIN, DEV, READER] {
        assert!(!text.contains(secret), "secret leaked in: {text}");
    }
}

/// A running test server with three tokens: `admin` (administrator), `dev` (manage_runner)
/// and `reader` (read_api).
pub struct World {
    server: TestServer,
}

impl World {
    pub async fn start() -> Self {
        Self::with_server(TestServer::start().await.unwrap()).await
    }

    /// The same world over HTTPS, its certificate signed by a CA made for it; the clients
    /// trust that CA.
    pub async fn start_tls() -> Self {
        Self::with_server(TestServer::start_tls().await.unwrap()).await
    }

    async fn with_server(server: TestServer) -> Self {
        let world = Self { server };
        for token in [
            TokenSpec::admin("admin", ADMIN),
            TokenSpec::user("dev", DEV, &[Scope::ManageRunner]),
            TokenSpec::user("reader", READER, &[Scope::ReadApi]),
        ] {
            world.admin().add_token(&token).await.unwrap();
        }
        world
    }

    /// The test surface (`/-/test/…`).
    pub fn admin(&self) -> AdminClient {
        self.server.admin()
    }

    /// The client under test, configured for this server and `token`.
    pub fn client(&self, token: &str) -> GitlabClient {
        GitlabClient::new(self.client_config(token)).unwrap()
    }

    /// The configuration [`World::client`] uses, for tests that change a setting.
    pub fn client_config(&self, token: &str) -> ClientConfig {
        let mut config = ClientConfig::new(self.server.url(), SecretString::from(token));
        config.ca_certificates_pem = self.server.ca_pem().map(str::to_owned);
        config
    }

    /// `http(s)://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.server.address().port()
    }

    /// A runner described as `k8s`, owned by `dev` and `reader`.
    pub async fn dev_runner(&self) -> RunnerRecord {
        let runner = NewRunner {
            description: "k8s".into(),
            owners: vec!["dev".into(), "reader".into()],
            ..NewRunner::default()
        };
        self.admin().create_runner(&runner).await.unwrap()
    }

    pub async fn start_job(&self, runner_id: u64, job: &NewJob) -> JobRecord {
        self.admin().start_job(runner_id, job).await.unwrap()
    }

    pub async fn inject(&self, fault: &FaultRule) {
        self.admin().add_fault(fault).await.unwrap();
    }

    pub async fn request_log(&self) -> Vec<LoggedRequest> {
        self.admin().requests().await.unwrap()
    }

    /// The status of every logged request, in order (`None` where no answer was sent).
    pub async fn logged_statuses(&self) -> Vec<Option<u16>> {
        let log = self.request_log().await;
        log.iter().map(|entry| entry.status).collect()
    }

    /// Whether the server still holds runner `id`.
    pub async fn runner_exists(&self, id: u64) -> bool {
        self.admin().runner(id).await.unwrap().is_some()
    }

    /// Whether runner `id` (which must exist) is paused on the server.
    pub async fn is_paused(&self, id: u64) -> bool {
        let runner = self.admin().runner(id).await.unwrap();
        runner
            .unwrap_or_else(|| panic!("runner {id} is gone"))
            .paused
    }
}
