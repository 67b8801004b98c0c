//! The test surface for token expiry and the server's clock, and the runner's own rotation.

use reqwest::Method;
use serde::Deserialize;

use super::{AdminClient, AdminClientError};
use crate::token_api::{AdvanceClock, InstanceSettings};

/// A new runner token, as `POST /runners/reset_authentication_token` returns it. No `Debug`
/// beyond the expiry: it holds a token.
#[derive(Clone, Deserialize)]
pub struct ResetToken {
    /// The new `glrt-` token.
    pub token: String,
    /// When it expires (GitLab's format), `None` when it does not.
    pub token_expires_at: Option<String>,
}

impl std::fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetToken")
            .field("token", &"<redacted>")
            .field("token_expires_at", &self.token_expires_at)
            .finish()
    }
}

#[derive(Deserialize)]
struct Now {
    now: String,
}

impl AdminClient {
    /// Sets the instance's `runner_token_expiration_interval` (seconds; `None` = no expiry),
    /// for tokens issued from now on.
    pub async fn set_token_expiration_interval(
        &self,
        seconds: Option<u64>,
    ) -> Result<(), AdminClientError> {
        let body = InstanceSettings {
            runner_token_expiration_interval: seconds,
        };
        self.send(Method::PUT, "/settings", Some(&body))
            .await
            .map(drop)
    }

    /// Moves the server's clock `seconds` forward; returns the server's new time.
    pub async fn advance_clock(&self, seconds: i64) -> Result<String, AdminClientError> {
        let body = AdvanceClock {
            advance_secs: seconds,
        };
        let now: Now = self.json(Method::POST, "/clock", Some(&body)).await?;
        Ok(now.now)
    }

    /// What a runner process does before its token expires: `POST
    /// /api/v4/runners/reset_authentication_token` with its current token. The old token stops
    /// working.
    pub async fn rotate_as_runner(&self, token: &str) -> Result<ResetToken, AdminClientError> {
        let path = "/api/v4/runners/reset_authentication_token";
        let url = format!("{}{path}", self.base_url);
        let http_error = |source| AdminClientError::Http {
            method: Method::POST,
            path: path.to_owned(),
            source,
        };
        let response = self
            .http
            .post(url)
            .form(&[("token", token)])
            .send()
            .await
            .map_err(http_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(AdminClientError::Status {
                method: Method::POST,
                path: path.to_owned(),
                status,
                body: response.text().await.unwrap_or_default(),
            });
        }
        response.json().await.map_err(http_error)
    }
}
