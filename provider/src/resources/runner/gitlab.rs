//! GitLab access for the runner resource: the provider's `gitlab` block with the drain's URL
//! and host rules ([`GitlabAccess::for_release`], [`crate::drain::drain_api_url`]), every call
//! retried (429, 5xx, timeouts) within the operation's time limit, and GitLab's refusals turned
//! into diagnostics that say what to fix.

use std::future::Future;

use gitlab_runner_api::{GitlabError, retry};
use tfplugin::{AttributePath, CancellationToken, Diagnostic, Diagnostics};
use tokio::time::Instant;

use crate::ProviderConfig;
use crate::drain::{GitlabAccess, GitlabAccessError};
use crate::kube::Budget;

/// A GitLab client and the deadline and cancellation of the current operation.
pub struct Gitlab {
    access: GitlabAccess,
    deadline: Instant,
    cancel: CancellationToken,
}

impl Gitlab {
    /// The client for a runner of the GitLab at `gitlab_url` (else `base_url`, else
    /// `CI_SERVER_URL`), within `budget`.
    pub fn connect(
        provider: &ProviderConfig,
        gitlab_url: Option<&str>,
        budget: &Budget,
        cancel: &CancellationToken,
    ) -> Result<Gitlab, Diagnostics> {
        let access = match GitlabAccess::for_release(provider.gitlab.as_ref(), gitlab_url) {
            Ok(Some(access)) => access,
            Ok(None) => {
                return Err(Diagnostic::error(
                    "GitLab Access Not Configured",
                    "gitlabrunner_runner creates and manages the runner through GitLab's REST API: set the provider's gitlab { token } (or GITLAB_TOKEN) with the create_runner and manage_runner scopes (or api), and the GitLab's address: this resource's gitlab_url, the provider's gitlab.base_url (or GITLAB_BASE_URL), or CI_SERVER_URL in a GitLab CI job.",
                )
                .into());
            }
            Err(GitlabAccessError::HostMismatch(mismatch)) => {
                return Err(Diagnostic::error(
                    "GitLab API Host Differs From gitlab_url",
                    format!(
                        "The GitLab token would be sent to {base_url} ({setting}), but the runner belongs to {gitlab_url} (gitlab_url): host {base_host} is not {gitlab_host}. Nothing was sent. Remove base_url or point it at {gitlab_host}; only if GitLab's API really is served on {base_host}, {opt_out}.",
                        base_url = mismatch.base_url,
                        setting = mismatch.setting,
                        gitlab_url = mismatch.gitlab_url,
                        base_host = mismatch.base_host,
                        gitlab_host = mismatch.gitlab_host,
                        opt_out = mismatch.opt_out(),
                    ),
                )
                .at(AttributePath::new("gitlab_url"))
                .into());
            }
            Err(GitlabAccessError::Client(error)) => {
                return Err(Diagnostic::error(
                    "Invalid GitLab Settings",
                    format!("{error}. Fix the provider's gitlab block (or GITLAB_BASE_URL / GITLAB_TOKEN) or gitlab_url."),
                )
                .into());
            }
        };
        Ok(Gitlab {
            access,
            deadline: Instant::now() + budget.remaining(),
            cancel: cancel.clone(),
        })
    }

    /// The client (for the calls given to [`Gitlab::once`] and [`Gitlab::call`]).
    pub fn client(&self) -> &gitlab_runner_api::GitlabClient {
        &self.access.client
    }

    /// Awaits `call` once (a request that must not be repeated, like creating a runner); the
    /// client's request timeout and Terraform's cancellation bound it.
    pub async fn once<T>(
        &self,
        call: impl Future<Output = Result<T, GitlabError>>,
    ) -> Result<T, GitlabError> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(GitlabError::Cancelled { last: None }),
            result = call => result,
        }
    }

    /// Runs `call`, retrying transient failures until the deadline.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, GitlabError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GitlabError>>,
    {
        retry(&self.access.retry, Some(self.deadline), &self.cancel, call).await
    }
}

/// A GitLab failure as a diagnostic: the client's message already names the operation, the
/// scope or role needed (401/403) and what a 404 means; `summary` says what the resource was doing.
pub fn diagnostic(summary: &str, error: &GitlabError) -> Diagnostics {
    let detail = match error {
        GitlabError::NotFound { .. } | GitlabError::Rejected { .. }
            if error.operation() == Some(gitlab_runner_api::Operation::CreateUserRunner) =>
        {
            format!(
                "{error}. Check runner_type, group_id and project_id, and that the token's user may create runners there."
            )
        }
        _ => error.to_string(),
    };
    let diagnostic = Diagnostic::error(summary, detail);
    match error.operation() {
        Some(gitlab_runner_api::Operation::CreateUserRunner) if error.is_not_found() => {
            diagnostic.at(AttributePath::new("runner_type")).into()
        }
        _ => diagnostic.into(),
    }
}

#[cfg(test)]
mod tests {
    use gitlab_runner_api::Operation;

    use super::*;
    use crate::config::{ConfiguredUrl, GitLabSettings, UrlSource};

    #[test]
    fn a_404_on_create_points_at_the_owner_and_a_403_names_the_scope() {
        let missing = diagnostic(
            "Cannot Create GitLab Runner",
            &GitlabError::NotFound {
                operation: Operation::CreateUserRunner,
                detail: " (404 Group Not Found)".into(),
            },
        );
        let d = missing.iter().next().unwrap();
        assert!(d.detail.contains("group_id"), "{}", d.detail);
        assert!(d.detail.contains("Group Not Found"), "{}", d.detail);
        assert_eq!(d.attribute, Some(AttributePath::new("runner_type")));
        let forbidden = diagnostic(
            "Cannot Reset the Runner Token",
            &GitlabError::Forbidden {
                operation: Operation::ResetRunnerToken(7),
                detail: String::new(),
            },
        );
        let d = forbidden.iter().next().unwrap();
        assert!(
            d.detail.contains("`manage_runner` or `api`"),
            "{}",
            d.detail
        );
    }

    fn provider_with_base_url(base_url: &str, source: UrlSource) -> ProviderConfig {
        ProviderConfig {
            gitlab: Some(GitLabSettings {
                base_url: Some(ConfiguredUrl {
                    url: base_url.to_owned(),
                    source,
                }),
                allow_different_host: false,
                ci_server_url: None,
                token: Some("glpat-never-sent".to_owned()),
                ca_certificate: None,
                ca_certificate_file: None,
            }),
            ..ProviderConfig::default()
        }
    }

    fn refusal(provider: &ProviderConfig, gitlab_url: &str) -> Diagnostic {
        let cancel = CancellationToken::new();
        let budget = Budget::with_token(std::time::Duration::from_secs(5), cancel.clone());
        let Err(refused) = Gitlab::connect(provider, Some(gitlab_url), &budget, &cancel) else {
            panic!("a base_url on another host than gitlab_url must be refused");
        };
        refused.iter().next().expect("one diagnostic").clone()
    }

    #[test]
    fn a_base_url_on_another_host_is_refused_at_gitlab_url_with_the_way_out_for_its_setting() {
        let d = refusal(
            &provider_with_base_url("https://gitlab.elsewhere.example", UrlSource::Attribute),
            "https://gitlab.example.com",
        );
        assert_eq!(d.summary, "GitLab API Host Differs From gitlab_url");
        assert_eq!(d.attribute, Some(AttributePath::new("gitlab_url")));
        for part in [
            "gitlab.elsewhere.example",
            "gitlab.example.com",
            "Nothing was sent",
            "allow_different_host = true",
        ] {
            assert!(d.detail.contains(part), "{part:?} in {}", d.detail);
        }
        assert!(!d.detail.contains("glpat-never-sent"), "{}", d.detail);
        assert!(
            !d.detail.contains("GITLAB_ALLOW_DIFFERENT_HOST"),
            "{}",
            d.detail
        );

        let from_env = refusal(
            &provider_with_base_url("https://gitlab.elsewhere.example", UrlSource::Environment),
            "https://gitlab.example.com",
        );
        assert!(
            from_env.detail.contains("GITLAB_ALLOW_DIFFERENT_HOST=true"),
            "{}",
            from_env.detail
        );
    }
}
