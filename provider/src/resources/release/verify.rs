//! `verify_runner`: after a rollout helm calls ready, wait (within the release's `timeout`) until
//! GitLab lists a manager of this runner (`GET /runners/:id/managers`) that contacted it after the
//! rollout started. The chart's readiness probe only checks that the process exists, so a green
//! helm says nothing about a wrong URL or CA or a revoked token; this does.
//!
//! Without GitLab access (no provider `gitlab` block with a token) nothing is requested.
//! When no manager makes contact in time, the diagnostic says what is known from the manager's
//! last log lines (tokens redacted): `is removed`/`403` → the token, `x509` → `cert_secret_name`,
//! otherwise the URL, the network or the CA.

use std::time::Duration;

use gitlab_runner_api::{CancellationToken, GitlabError, retry};
use tfplugin::{AttributePath, Diagnostic};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

use super::gitlab_state::{self, LookupError};
use super::model::ReleaseModel;
use crate::ProviderConfig;
use crate::drain::GitlabAccess;
use crate::kube::rollout::manager_log_tail;

/// How often GitLab's manager list is read while waiting.
const POLL: Duration = Duration::from_secs(1);
/// GitLab writes `contacted_at` with second precision (and may cache it for a while): a
/// contact this long before the rollout started still counts.
const CLOCK_SLACK: Duration = Duration::from_secs(2);
/// How many of the manager's log lines are looked at for the cause.
const LOG_LINES: i64 = 50;

/// Whether the release wants its runner verified: `verify_runner`; by default when the provider
/// has GitLab access to the runner's own GitLab — not when `allow_different_host` lets the
/// provider's `base_url` name another host, which may not be the GitLab the runner talks to.
pub fn wanted(config: &ProviderConfig, model: &ReleaseModel) -> bool {
    let Some(settings) = config.gitlab.as_ref() else {
        return false;
    };
    let access = settings
        .token
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    let elsewhere = settings.allow_different_host && settings.base_url.is_some();
    access && model.verify_runner.unwrap_or(!elsewhere) && model.wait.unwrap_or(true)
}

/// Why the runner could not be verified.
#[derive(Debug)]
enum Unverified {
    /// GitLab settings that cannot make a client.
    Access(String),
    /// The runner's id is unknown: no token in the Secret, or GitLab does not know the token.
    UnknownRunner(String),
    /// GitLab did not answer within the time left.
    Gitlab(GitlabError),
    /// No manager contacted GitLab after the rollout started; the manager's last lines.
    NoContact { runner_id: u64, logs: Vec<String> },
}

/// Waits until a manager of the release's runner contacted GitLab after `started`, until
/// `deadline`. `Ok(())` also when there is no GitLab access (nothing requested).
pub async fn verify(
    config: &ProviderConfig,
    model: &ReleaseModel,
    kube: &kube::Client,
    started: OffsetDateTime,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), Diagnostic> {
    contact(config, model, kube, started, deadline, cancel)
        .await
        .map_err(|error| diagnostic(&model.namespace, &model.name, &error))
}

async fn contact(
    config: &ProviderConfig,
    model: &ReleaseModel,
    kube: &kube::Client,
    started: OffsetDateTime,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), Unverified> {
    let access = GitlabAccess::for_release(config.gitlab.as_ref(), model.gitlab_url.as_deref())
        .map_err(|e| Unverified::Access(e.to_string()))?;
    let Some(access) = access else {
        return Ok(());
    };
    let runner_id = gitlab_state::runner_id(&access, model, kube, deadline, cancel)
        .await
        .map_err(|error| match error {
            LookupError::Gitlab(error) => Unverified::Gitlab(error),
            other => Unverified::UnknownRunner(other.to_string()),
        })?;
    let since = started - CLOCK_SLACK;
    loop {
        let managers = retry(&access.retry, Some(deadline), cancel, || {
            access.client.managers(runner_id)
        })
        .await
        .map_err(Unverified::Gitlab)?;
        let contacted = managers.iter().any(|m| {
            m.contacted_at
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .is_some_and(|t| t >= since)
        });
        if contacted {
            return Ok(());
        }
        if Instant::now() + POLL >= deadline || cancel.is_cancelled() {
            let logs = manager_log_tail(kube, &model.namespace, &model.name, LOG_LINES).await;
            return Err(Unverified::NoContact { runner_id, logs });
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = cancel.cancelled() => {}
        }
    }
}

fn diagnostic(namespace: &str, release: &str, error: &Unverified) -> Diagnostic {
    let summary = "Runner Not Verified In GitLab";
    let (detail, attribute) = match error {
        Unverified::Access(message) => (
            format!("the provider's GitLab settings cannot be used: {message}."),
            "gitlab_url",
        ),
        Unverified::UnknownRunner(message) => (
            format!(
                "the runner could not be found in GitLab: {message}. Check `token_secret_name` (or set `runner_id`)."
            ),
            "token_secret_name",
        ),
        Unverified::Gitlab(error) => (format!("GitLab did not answer: {error}."), "verify_runner"),
        Unverified::NoContact { runner_id, logs } => no_contact(*runner_id, logs),
    };
    Diagnostic::error(
        summary,
        format!(
            "Release {namespace}/{release} rolled out, but {detail} The release is recorded; the next apply \
             checks again. Set verify_runner = false to skip this check."
        ),
    )
    .at(AttributePath::new(attribute))
}

/// What the manager's last lines say about a runner that never reached GitLab.
fn no_contact(runner_id: u64, logs: &[String]) -> (String, &'static str) {
    let text = logs.join("\n");
    let lower = text.to_ascii_lowercase();
    let quoted = if logs.is_empty() {
        "No manager log lines could be read.".to_owned()
    } else {
        let tail: Vec<&String> = logs.iter().rev().take(10).rev().collect();
        format!(
            "The manager's last log lines (GitLab tokens redacted):\n  {}\n",
            tail.iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        )
    };
    let (cause, attribute) = if lower.contains("is removed") || lower.contains("403 forbidden") {
        (
            "GitLab refuses the runner's token (revoked, reset or deleted runner): put a valid token into the Secret `token_secret_name` names.",
            "token_secret_name",
        )
    } else if lower.contains("x509") || lower.contains("certificate") {
        (
            "the manager does not trust GitLab's certificate: put the CA into the Secret `cert_secret_name` names (`<gitlab-host>.crt`).",
            "cert_secret_name",
        )
    } else {
        (
            "no manager of runner has contacted GitLab since the rollout started: check `gitlab_url`, the network between the cluster and GitLab (DNS, egress, proxy) and the CA (`cert_secret_name`).",
            "gitlab_url",
        )
    };
    (
        format!(
            "no manager of runner {runner_id} contacted GitLab within `timeout` after the rollout started: {cause} {quoted}"
        ),
        attribute,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managers_lines_point_at_the_attribute() {
        let token = vec![
            "ERROR: Verifying runner... is removed  runner=glrt-[REDACTED] status=403 Forbidden"
                .to_owned(),
        ];
        assert_eq!(no_contact(7, &token).1, "token_secret_name");
        let ca = vec![
            "ERROR: tls: failed to verify certificate: x509: certificate signed by unknown authority".to_owned(),
        ];
        assert_eq!(no_contact(7, &ca).1, "cert_secret_name");
        let (detail, attribute) = no_contact(7, &[]);
        assert_eq!(attribute, "gitlab_url");
        assert!(detail.contains("runner 7"), "{detail}");
        assert!(detail.contains("No manager log lines"), "{detail}");
    }
}
