//! Who is calling, and what they may do.

use axum::http::HeaderMap;

use crate::errors::ApiError;
use crate::model::{Scope, TokenSpec};
use crate::store::Store;

/// What kind of access an endpoint needs from the token's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reading runners, their jobs and managers.
    Read,
    /// Changing or deleting runners.
    Manage,
    /// Creating runners.
    Create,
    /// Reading the caller's own user.
    ReadUser,
}

impl Access {
    fn scopes(self) -> &'static [Scope] {
        match self {
            Self::Read => &[Scope::Api, Scope::ReadApi, Scope::ManageRunner],
            Self::Manage => &[Scope::Api, Scope::ManageRunner],
            Self::Create => &[Scope::Api, Scope::CreateRunner],
            Self::ReadUser => &[Scope::Api, Scope::ReadApi, Scope::ReadUser],
        }
    }

    fn scope_names(self) -> &'static [&'static str] {
        match self {
            Self::Read => &["api", "read_api", "manage_runner"],
            Self::Manage => &["api", "manage_runner"],
            Self::Create => &["api", "create_runner"],
            Self::ReadUser => &["api", "read_api", "read_user"],
        }
    }
}

/// The secret sent in `PRIVATE-TOKEN`, or else in `Authorization: Bearer`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("private-token") {
        return value.to_str().ok();
    }
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The name of the presented token for the request log (never its value).
pub(crate) fn token_name_for_log(store: &Store, headers: &HeaderMap) -> Option<String> {
    let value = presented_token(headers)?;
    Some(
        store
            .token_by_value(value)
            .map_or_else(|| "<unknown>".to_owned(), |token| token.name),
    )
}

/// Authenticates the caller and checks the token's scopes: 401 without a known token,
/// 403 (GitLab's `insufficient_scope` body) without a fitting scope.
pub(crate) fn authorize(
    store: &Store,
    headers: &HeaderMap,
    access: Access,
) -> Result<TokenSpec, ApiError> {
    let value = presented_token(headers).ok_or(ApiError::Unauthorized)?;
    let token = store.token_by_value(value).ok_or(ApiError::Unauthorized)?;
    if !token.has_any_scope(access.scopes()) {
        return Err(ApiError::InsufficientScope(access.scope_names()));
    }
    Ok(token)
}

/// Whether the caller may manage (read, change, delete) a runner.
pub(crate) fn may_manage_runner(token: &TokenSpec, runner_id: u64) -> bool {
    token.admin || token.runners.contains(&runner_id)
}

/// Whether the caller can see a project's jobs.
pub(crate) fn may_see_project(token: &TokenSpec, project_id: u64) -> bool {
    token.admin || token.projects.contains(&project_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn private_token_header_wins_over_bearer() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer second"));
        assert_eq!(presented_token(&headers), Some("second"));
        headers.insert("private-token", HeaderValue::from_static("first"));
        assert_eq!(presented_token(&headers), Some("first"));
    }

    #[test]
    fn other_authorization_schemes_are_not_tokens() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_token(&headers), None);
    }
}
