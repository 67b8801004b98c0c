//! A Rust client for the test surface (works for an in-process server and the binary alike).

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod tokens;

pub use tokens::ResetToken;

use crate::model::{
    FaultRule, JobRecord, JobStatus, LoggedRequest, NewJob, NewManager, NewRunner, Project,
    RunnerRecord, SetJobStatus, SetProjects, TokenSpec,
};

/// Why a test-surface call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// The request did not complete.
    #[error("test-surface request {method} {path} failed")]
    Http {
        /// Method.
        method: Method,
        /// Path.
        path: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server refused it.
    #[error("test-surface request {method} {path} answered {status}: {body}")]
    Status {
        /// Method.
        method: Method,
        /// Path.
        path: String,
        /// Status.
        status: StatusCode,
        /// Body text.
        body: String,
    },
    /// The CA given to [`AdminClient::with_ca`] is not a usable PEM certificate.
    #[error("cannot trust the test server's CA")]
    Ca {
        /// Why reqwest refused the certificate or the client.
        source: reqwest::Error,
    },
    /// The CA given to [`AdminClient::with_ca`] holds no PEM certificate at all.
    #[error("the test server's CA text holds no PEM certificate")]
    NoCaCertificate,
}

/// A client trusting no built-in roots: loading them would only slow tests down, and a test
/// server is trusted through its own CA alone.
fn client_without_roots() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
}

/// An HTTP-only client.
fn plain_http_client() -> reqwest::Client {
    client_without_roots().build().unwrap_or_default()
}

/// A client trusting only the certificates in `ca_pem` (at least one).
fn client_trusting(ca_pem: &str) -> Result<reqwest::Client, AdminClientError> {
    let certificates = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
        .map_err(|source| AdminClientError::Ca { source })?;
    if certificates.is_empty() {
        return Err(AdminClientError::NoCaCertificate);
    }
    certificates
        .into_iter()
        .fold(
            client_without_roots(),
            reqwest::ClientBuilder::add_root_certificate,
        )
        .build()
        .map_err(|source| AdminClientError::Ca { source })
}

/// A client for `/-/test/…` on a GitLab API test server.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base_url: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the server at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: plain_http_client(),
        }
    }

    /// A client for an HTTPS server at `base_url` (`https://127.0.0.1:PORT`) whose certificate
    /// `ca_pem` signed (see [`crate::TestServer::ca_pem`]); no other CA is trusted.
    pub fn with_ca(base_url: &str, ca_pem: &str) -> Result<Self, AdminClientError> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: client_trusting(ca_pem)?,
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<reqwest::Response, AdminClientError> {
        let url = format!("{}/-/test{path}", self.base_url);
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| AdminClientError::Http {
                method: method.clone(),
                path: path.to_owned(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(AdminClientError::Status {
            method,
            path: path.to_owned(),
            status,
            body,
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, AdminClientError> {
        let response = self.send(method.clone(), path, body).await?;
        response
            .json()
            .await
            .map_err(|source| AdminClientError::Http {
                method,
                path: path.to_owned(),
                source,
            })
    }

    /// Restores the seed state: forgets runners, jobs, faults and the request log.
    pub async fn reset(&self) -> Result<(), AdminClientError> {
        self.send(Method::POST, "/reset", None::<&()>)
            .await
            .map(drop)
    }

    /// Adds (or replaces by name) an access token.
    pub async fn add_token(&self, token: &TokenSpec) -> Result<(), AdminClientError> {
        self.send(Method::POST, "/tokens", Some(token))
            .await
            .map(drop)
    }

    /// Replaces the projects a token can see (hides other projects' jobs from it).
    pub async fn set_token_projects(
        &self,
        token_name: &str,
        projects: &[u64],
    ) -> Result<(), AdminClientError> {
        let body = SetProjects {
            projects: projects.to_vec(),
        };
        let path = format!("/tokens/{token_name}/projects");
        self.send(Method::PUT, &path, Some(&body)).await.map(drop)
    }

    /// Describes a project (its name appears in job JSON).
    pub async fn add_project(&self, project: &Project) -> Result<(), AdminClientError> {
        self.send(Method::POST, "/projects", Some(project))
            .await
            .map(drop)
    }

    /// Creates a runner (with a known token when `runner.token` is set).
    pub async fn create_runner(
        &self,
        runner: &NewRunner,
    ) -> Result<RunnerRecord, AdminClientError> {
        self.json(Method::POST, "/runners", Some(runner)).await
    }

    /// A runner's current state, `None` when it does not exist (e.g. after deletion).
    pub async fn runner(&self, id: u64) -> Result<Option<RunnerRecord>, AdminClientError> {
        match self
            .json(Method::GET, &format!("/runners/{id}"), None::<&()>)
            .await
        {
            Ok(record) => Ok(Some(record)),
            Err(AdminClientError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Deletes a runner behind the provider's back (as a GitLab user might); `false` when it
    /// did not exist.
    pub async fn delete_runner(&self, id: u64) -> Result<bool, AdminClientError> {
        match self
            .send(Method::DELETE, &format!("/runners/{id}"), None::<&()>)
            .await
        {
            Ok(_) => Ok(true),
            Err(AdminClientError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Registers a runner manager; returns its JSON as `GET /runners/:id/managers` shows it.
    pub async fn add_manager(
        &self,
        runner_id: u64,
        manager: &NewManager,
    ) -> Result<serde_json::Value, AdminClientError> {
        self.json(
            Method::POST,
            &format!("/runners/{runner_id}/managers"),
            Some(manager),
        )
        .await
    }

    /// Starts a job on a runner.
    pub async fn start_job(
        &self,
        runner_id: u64,
        job: &NewJob,
    ) -> Result<JobRecord, AdminClientError> {
        self.json(
            Method::POST,
            &format!("/runners/{runner_id}/jobs"),
            Some(job),
        )
        .await
    }

    /// A job's current state.
    pub async fn job(&self, id: u64) -> Result<JobRecord, AdminClientError> {
        self.json(Method::GET, &format!("/jobs/{id}"), None::<&()>)
            .await
    }

    /// Sets a job's status (finished statuses stamp `finished_at`).
    pub async fn set_job_status(
        &self,
        id: u64,
        status: JobStatus,
    ) -> Result<JobRecord, AdminClientError> {
        self.json(
            Method::PUT,
            &format!("/jobs/{id}/status"),
            Some(&SetJobStatus { status }),
        )
        .await
    }

    /// Finishes a job successfully.
    pub async fn finish_job(&self, id: u64) -> Result<JobRecord, AdminClientError> {
        self.set_job_status(id, JobStatus::Success).await
    }

    /// Injects a fault.
    pub async fn add_fault(&self, rule: &FaultRule) -> Result<(), AdminClientError> {
        self.send(Method::POST, "/faults", Some(rule))
            .await
            .map(drop)
    }

    /// Fault rules with requests left to affect.
    pub async fn faults(&self) -> Result<Vec<FaultRule>, AdminClientError> {
        self.json(Method::GET, "/faults", None::<&()>).await
    }

    /// Removes every fault rule.
    pub async fn clear_faults(&self) -> Result<(), AdminClientError> {
        self.send(Method::DELETE, "/faults", None::<&()>)
            .await
            .map(drop)
    }

    /// The API request log, in arrival order (test-surface calls are not logged).
    pub async fn requests(&self) -> Result<Vec<LoggedRequest>, AdminClientError> {
        self.json(Method::GET, "/requests", None::<&()>).await
    }

    /// Empties the request log.
    pub async fn clear_requests(&self) -> Result<(), AdminClientError> {
        self.send(Method::DELETE, "/requests", None::<&()>)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_does_not_repeat_its_source() {
        let refused = reqwest::Client::new()
            .get("http://127.0.0.1:1/")
            .send()
            .await
            .expect_err("nothing listens on port 1");
        let error = AdminClientError::Http {
            method: Method::GET,
            path: "/test/log".into(),
            source: refused,
        };
        assert_eq!(
            error.to_string(),
            "test-surface request GET /test/log failed"
        );
        assert!(std::error::Error::source(&error).is_some());
    }
}
