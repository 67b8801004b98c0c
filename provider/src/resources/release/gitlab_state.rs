//! The runner as GitLab sees it, for the release's refresh (issue 15): `runner_status`,
//! `runner_paused` and `online_managers`; a runner paused by someone else is drift the next
//! apply repairs (it unpauses it), a runner deleted in GitLab is reported (it needs a new
//! token). Without GitLab access (no token in the provider's `gitlab` block) nothing is
//! requested and nothing changes.

use gitlab_runner_api::{CancellationToken, GitlabError, retry};
use k8s_openapi::api::core::v1::Secret;
use tfplugin::{AttributePath, Diagnostic};
use tokio::time::Instant;

use super::model::ReleaseModel;
use crate::ProviderConfig;
use crate::drain::{GitlabAccess, token_from_secret};
use crate::kube::{Budget, Objects};

/// The GitLab client for `model`'s runner, or `None` without GitLab access.
pub fn access(config: &ProviderConfig, model: &ReleaseModel) -> Option<GitlabAccess> {
    let settings = config.gitlab.as_ref()?;
    settings.token.as_deref().filter(|t| !t.trim().is_empty())?;
    GitlabAccess::for_release(Some(settings), model.gitlab_url.as_deref())
        .ok()
        .flatten()
}

/// Why the runner's id is not known.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no token_secret_name is set")]
    NoSecretName,
    #[error("reading the token Secret failed: {0}")]
    Kube(String),
    #[error("Secret {0} has no runner-token")]
    NoToken(String),
    #[error(
        "GitLab does not know the runner token (403 on POST /runners/verify): the runner was deleted or its token reset"
    )]
    UnknownToken,
    #[error("{0}")]
    Gitlab(#[from] GitlabError),
}

/// The runner's id: `runner_id`, else GitLab's answer for the token in `token_secret_name`.
pub async fn runner_id(
    access: &GitlabAccess,
    model: &ReleaseModel,
    kube: &kube::Client,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<u64, LookupError> {
    if let Some(id) = model.runner_id.and_then(|id| u64::try_from(id).ok()) {
        return Ok(id);
    }
    let name = model
        .token_secret_name
        .as_deref()
        .ok_or(LookupError::NoSecretName)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let budget = Budget::with_token(left, cancel.clone());
    let secret = Objects::<Secret>::new(kube.clone(), &model.namespace)
        .get(name, &budget)
        .await
        .map_err(|e| LookupError::Kube(e.to_string()))?;
    let token = secret
        .as_ref()
        .and_then(token_from_secret)
        .ok_or_else(|| LookupError::NoToken(format!("{}/{name}", model.namespace)))?;
    access
        .runner_id_from_token(&token, deadline, cancel)
        .await?
        .ok_or(LookupError::UnknownToken)
}

/// What GitLab says about the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Found {
        status: String,
        paused: bool,
        online_managers: i64,
    },
    /// `GET /runners/:id` answered 404, or the token is unknown.
    Deleted { runner: String },
}

/// The runner's state in GitLab; `Ok(None)` without GitLab access (nothing requested).
pub async fn observe(
    config: &ProviderConfig,
    model: &ReleaseModel,
    kube: &kube::Client,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<Option<Observed>, LookupError> {
    let Some(access) = access(config, model) else {
        return Ok(None);
    };
    let id = match runner_id(&access, model, kube, deadline, cancel).await {
        Ok(id) => id,
        Err(LookupError::UnknownToken) => {
            return Ok(Some(Observed::Deleted {
                runner: "of this token".to_owned(),
            }));
        }
        Err(error) => return Err(error),
    };
    let runner = retry(&access.retry, Some(deadline), cancel, || {
        access.client.find_runner(id)
    })
    .await?;
    let Some(runner) = runner else {
        return Ok(Some(Observed::Deleted {
            runner: id.to_string(),
        }));
    };
    let managers = retry(&access.retry, Some(deadline), cancel, || {
        access.client.managers(id)
    })
    .await?;
    let online = managers
        .iter()
        .filter(|m| m.status.as_deref() == Some("online"))
        .count();
    Ok(Some(Observed::Found {
        status: runner.status.unwrap_or_else(|| "unknown".to_owned()),
        paused: runner.paused,
        online_managers: i64::try_from(online).unwrap_or(i64::MAX),
    }))
}

/// The refresh's warning for a runner GitLab no longer has.
pub fn deleted_diagnostic(namespace: &str, release: &str, runner: &str) -> Diagnostic {
    Diagnostic::warning(
        "Runner Deleted In GitLab",
        format!(
            "GitLab no longer has runner {runner} of release {namespace}/{release} (deleted in GitLab, or its token reset). \
             The manager cannot work with the old token: create a new runner and put its token into the Secret \
             `token_secret_name` names (with gitlabrunner_runner, replace that resource), then apply."
        ),
    )
    .at(AttributePath::new("token_secret_name"))
}

/// Unpauses the runner someone paused in GitLab (the apply's repair of that drift).
pub async fn unpause(
    config: &ProviderConfig,
    model: &ReleaseModel,
    kube: &kube::Client,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), Diagnostic> {
    let failed = |detail: String| {
        Diagnostic::error(
            "Cannot Unpause Runner",
            format!(
                "The runner of release {}/{} is paused in GitLab and could not be unpaused: {detail}.",
                model.namespace, model.name
            ),
        )
        .at(AttributePath::new("runner_paused"))
    };
    let Some(access) = access(config, model) else {
        return Ok(());
    };
    let id = runner_id(&access, model, kube, deadline, cancel)
        .await
        .map_err(|e| failed(e.to_string()))?;
    access
        .set_paused(id, false, deadline, cancel)
        .await
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| failed(format!("GitLab no longer has runner {id}")))?;
    Ok(())
}
