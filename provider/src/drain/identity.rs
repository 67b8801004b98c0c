//! The runner's identity from the cluster: its authentication token (read from the token
//! Secret, kept as a secret value) and the job-pod selector derived from it.

use gitlab_runner_api::{ExposeSecret, SecretString, short_token};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::job_pods::JobPodSelector;
use crate::kube::{Action, Budget, KubeError, Verb};

/// The Secret key holding the runner authentication token (`glrt-…`).
pub const RUNNER_TOKEN_KEY: &str = "runner-token";

/// The runner token from a token Secret's data; `None` when the key is missing or empty.
/// Surrounding whitespace (a trailing newline) is dropped.
pub fn token_from_secret(secret: &Secret) -> Option<SecretString> {
    let bytes = secret.data.as_ref()?.get(RUNNER_TOKEN_KEY)?;
    let text = std::str::from_utf8(&bytes.0).ok()?.trim();
    (!text.is_empty()).then(|| SecretString::from(text.to_owned()))
}

/// Reads the runner token from `namespace/name`; `Ok(None)` when the Secret or key is missing.
pub async fn read_runner_token(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    budget: &Budget,
) -> Result<Option<SecretString>, KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let action = Action::new(Verb::Get, "secrets", "", namespace, name);
    let secret = budget.retry(&action, || api.get_opt(name)).await?;
    Ok(secret.as_ref().and_then(token_from_secret))
}

/// How to find the job pods: by the token's short form, else by `runners.name`.
pub fn job_pod_selector(
    token: Option<&SecretString>,
    runner_name: Option<&str>,
) -> Option<JobPodSelector> {
    if let Some(token) = token {
        let short = short_token(token.expose_secret());
        if !short.is_empty() {
            return Some(JobPodSelector::ShortToken(short));
        }
    }
    runner_name
        .filter(|name| !name.is_empty())
        .map(|name| JobPodSelector::RunnerName(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(value: &[u8]) -> Secret {
        Secret {
            data: Some([(RUNNER_TOKEN_KEY.to_owned(), ByteString(value.to_vec()))].into()),
            ..Secret::default()
        }
    }

    #[test]
    fn token_is_read_and_trimmed() {
        let token = token_from_secret(&secret(b"glrt-t1_AbCdEfGhIjKl\n")).unwrap();
        assert_eq!(token.expose_secret(), "glrt-t1_AbCdEfGhIjKl");
        assert!(token_from_secret(&secret(b"")).is_none());
        assert!(token_from_secret(&Secret::default()).is_none());
    }

    #[test]
    fn selector_prefers_the_short_token_and_falls_back_to_the_runner_name() {
        let token = SecretString::from("glrt-t1_AbCdEfGhIjKl".to_owned());
        assert_eq!(
            job_pod_selector(Some(&token), Some("k8s")),
            Some(JobPodSelector::ShortToken("AbCdEfGhI".into()))
        );
        assert_eq!(
            job_pod_selector(None, Some("k8s")),
            Some(JobPodSelector::RunnerName("k8s".into()))
        );
        assert_eq!(job_pod_selector(None, Some("")), None);
    }
}
