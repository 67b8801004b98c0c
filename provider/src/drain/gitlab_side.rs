//! The runner in GitLab: finding its id, pausing, resuming and deleting it, and whether the
//! token sees every job. Every call is retried (429, 5xx, timeouts) within the deadline.

use std::time::Duration;

use super::message::DrainMessage;
use gitlab_runner_api::{
    CancellationToken, ClientConfig, Deletion, ExposeSecret, GitlabClient, GitlabError,
    RetryPolicy, SecretString, retry,
};
use tokio::time::Instant;

use super::gitlab_url::{HostMismatch, drain_api_url};
use crate::config::GitLabSettings;

/// Why the drain's GitLab client was not built.
#[derive(Debug, thiserror::Error)]
pub enum GitlabAccessError {
    /// `base_url` names another host than the release's `gitlab_url`.
    #[error(transparent)]
    HostMismatch(#[from] HostMismatch),
    /// The settings cannot make a client (bad URL, token or CA).
    #[error(transparent)]
    Client(#[from] GitlabError),
}

impl GitlabAccessError {
    /// What Terraform shows for the drain of `release` (the release makes it an error).
    pub fn message(&self, release: &str) -> DrainMessage {
        match self {
            Self::HostMismatch(mismatch) => mismatch.message(release),
            Self::Client(error) => DrainMessage::new(
                "Invalid GitLab Settings",
                format!(
                    "{error}. Fix the provider's gitlab block (or GITLAB_BASE_URL / GITLAB_TOKEN)."
                ),
            ),
        }
    }
}

/// A GitLab client with the retry policy the drain uses.
#[derive(Debug, Clone)]
pub struct GitlabAccess {
    pub client: GitlabClient,
    pub retry: RetryPolicy,
}

/// Whether the token's user sees every job of the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobVisibility {
    /// An administrator: every job is listed.
    All,
    /// Not an administrator, or unknown (the token cannot read its user): jobs of projects the
    /// user cannot see are not listed.
    MaybePartial,
}

impl GitlabAccess {
    /// A client for the drain of a release whose runner belongs to `gitlab_url`: the URL comes
    /// from [`drain_api_url`] (a configured `base_url` on the same host, else `gitlab_url`, else
    /// `CI_SERVER_URL`). `Ok(None)` when no access token (or no URL) is configured. A
    /// `base_url` on another host is refused before any request.
    pub fn for_release(
        settings: Option<&GitLabSettings>,
        gitlab_url: Option<&str>,
    ) -> Result<Option<Self>, GitlabAccessError> {
        let Some(settings) = settings else {
            return Ok(None);
        };
        let Some(token) = settings.token.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let Some(api) = drain_api_url(settings, gitlab_url)? else {
            return Ok(None);
        };
        tracing::debug!(url = %api.url, source = %api.source, "drain: GitLab API address");
        let mut config = ClientConfig::new(api.url, SecretString::from(token.to_owned()));
        config.ca_certificates_pem = settings.ca_pem();
        Ok(Some(Self::new(GitlabClient::new(config)?)))
    }

    /// Wraps a client with the default retry policy (0.5 s doubling to 15 s, with jitter).
    pub fn new(client: GitlabClient) -> Self {
        Self {
            client,
            retry: RetryPolicy::default(),
        }
    }

    /// The runner id for a runner authentication token (`POST /runners/verify`). `Ok(None)` when
    /// GitLab does not know the token (403): the runner was deleted or its token reset.
    pub async fn runner_id_from_token(
        &self,
        token: &SecretString,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Option<u64>, GitlabError> {
        let outcome = retry(&self.retry, Some(deadline), cancel, || {
            self.client.verify_runner(token.expose_secret())
        })
        .await;
        match outcome {
            Ok(identity) => Ok(Some(identity.id)),
            Err(GitlabError::Forbidden { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Pauses (or resumes) the runner. Returns whether it was paused before, or `None` when the
    /// runner does not exist (deleted in GitLab).
    pub async fn set_paused(
        &self,
        runner_id: u64,
        paused: bool,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Option<bool>, GitlabError> {
        let before = retry(&self.retry, Some(deadline), cancel, || {
            self.client.find_runner(runner_id)
        })
        .await?;
        let Some(before) = before else {
            return Ok(None);
        };
        if before.paused != paused {
            match retry(&self.retry, Some(deadline), cancel, || {
                self.client.set_paused(runner_id, paused)
            })
            .await
            {
                Ok(_) => {}
                Err(error) if error.is_not_found() => return Ok(None),
                Err(error) => return Err(error),
            }
        }
        Ok(Some(before.paused))
    }

    /// Deletes the runner; one already gone is fine.
    pub async fn delete_runner(
        &self,
        runner_id: u64,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Deletion, GitlabError> {
        retry(&self.retry, Some(deadline), cancel, || {
            self.client.delete_runner(runner_id)
        })
        .await
    }

    /// Whether the token sees every job. A token that may not read its user (`manage_runner`
    /// only) counts as "maybe partial"; other failures are errors.
    pub async fn job_visibility(
        &self,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<JobVisibility, GitlabError> {
        match retry(&self.retry, Some(deadline), cancel, || {
            self.client.current_user()
        })
        .await
        {
            Ok(user) if user.is_admin => Ok(JobVisibility::All),
            Ok(_) | Err(GitlabError::Forbidden { .. }) => Ok(JobVisibility::MaybePartial),
            Err(error) => Err(error),
        }
    }
}

/// The warning for a token that may not see every job.
pub fn partial_visibility_warning(runner_id: u64) -> DrainMessage {
    DrainMessage::new(
        "GitLab Token May Not See Every Job",
        format!(
            "The GitLab token is not an administrator's (or cannot tell), so GitLab lists only the \
             jobs of runner {runner_id} in projects its user can see (Reporter or more). The drain \
             also waits for the runner's job pods, so hidden jobs still hold it; use an \
             administrator's token to see them all in GitLab."
        ),
    )
}

/// The warning for a drain without GitLab access.
pub fn no_gitlab_warning(release: &str) -> DrainMessage {
    DrainMessage::new(
        "Draining Without GitLab Access",
        format!(
            "No GitLab access is configured (an access token in the provider gitlab block or \
             GITLAB_TOKEN, and a GitLab URL: the release's gitlab_url or base_url), so the \
             runner of release {release} is not paused and its job pods alone decide when it is \
             idle. A job picked up between the last job pod ending and the manager stopping would \
             be cut off; configure GitLab access to pause the runner first."
        ),
    )
}

/// Polls between GitLab job listings: short first so the end of the last job is seen quickly.
pub const POLL_MIN: Duration = Duration::from_millis(250);
/// Longest wait between GitLab job listings (bounds the drain latency at about a second).
pub const POLL_MAX: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfiguredUrl, UrlSource};

    fn settings(token: Option<&str>, base_url: Option<&str>) -> GitLabSettings {
        GitLabSettings {
            base_url: base_url.map(|url| ConfiguredUrl {
                url: url.to_owned(),
                source: UrlSource::Attribute,
            }),
            allow_different_host: false,
            ci_server_url: None,
            token: token.map(str::to_owned),
            ca_certificate: None,
            ca_certificate_file: None,
        }
    }

    #[test]
    fn the_client_talks_to_the_release_gitlab_unless_base_url_is_on_its_host() {
        let gitlab_url = Some("https://gitlab.internal");
        let default = GitlabAccess::for_release(Some(&settings(Some("glpat-x"), None)), gitlab_url)
            .unwrap()
            .unwrap();
        assert_eq!(default.client.api_base(), "https://gitlab.internal/api/v4");
        let same_host = settings(Some("glpat-x"), Some("https://gitlab.internal:8443"));
        let access = GitlabAccess::for_release(Some(&same_host), gitlab_url)
            .unwrap()
            .unwrap();
        assert_eq!(
            access.client.api_base(),
            "https://gitlab.internal:8443/api/v4"
        );

        let elsewhere = settings(Some("glpat-x"), Some("https://gitlab.com"));
        let refused = GitlabAccess::for_release(Some(&elsewhere), gitlab_url).unwrap_err();
        assert!(
            matches!(refused, GitlabAccessError::HostMismatch(_)),
            "{refused:?}"
        );
        assert_eq!(
            refused.message("ci/runner").summary,
            "GitLab API Host Differs From gitlab_url"
        );
        // Without a token nothing is sent anywhere, so there is nothing to refuse.
        let no_token = settings(None, Some("https://gitlab.com"));
        assert!(matches!(
            GitlabAccess::for_release(Some(&no_token), gitlab_url),
            Ok(None)
        ));
        assert!(matches!(
            GitlabAccess::for_release(Some(&settings(Some("glpat-x"), None)), None),
            Ok(None)
        ));
    }
}
