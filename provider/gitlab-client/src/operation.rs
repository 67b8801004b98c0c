//! What a request was for — used in error messages and to say what to fix.

use std::fmt;

/// One GitLab API operation of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /runners/verify`.
    VerifyRunner,
    /// `GET /runners/:id`.
    GetRunner(u64),
    /// `PUT /runners/:id`.
    UpdateRunner(u64),
    /// `GET /runners/:id/jobs`.
    ListRunnerJobs(u64),
    /// `GET /runners/:id/managers`.
    ListRunnerManagers(u64),
    /// `DELETE /runners/:id`.
    DeleteRunner(u64),
    /// `POST /user/runners`.
    CreateUserRunner,
    /// `GET /user`.
    GetCurrentUser,
    /// `POST /runners/:id/reset_authentication_token`.
    ResetRunnerToken(u64),
}

impl Operation {
    /// The runner the operation is about, when known.
    pub fn runner_id(self) -> Option<u64> {
        match self {
            Self::GetRunner(id)
            | Self::UpdateRunner(id)
            | Self::ListRunnerJobs(id)
            | Self::ListRunnerManagers(id)
            | Self::DeleteRunner(id)
            | Self::ResetRunnerToken(id) => Some(id),
            Self::VerifyRunner | Self::CreateUserRunner | Self::GetCurrentUser => None,
        }
    }

    /// The token scopes GitLab accepts for this operation (any one of them), as shown in
    /// messages; `None` for `verify`, which authenticates with the runner token.
    pub fn required_scopes(self) -> Option<&'static str> {
        match self {
            Self::VerifyRunner => None,
            Self::GetCurrentUser => Some("`read_user`, `read_api` or `api`"),
            Self::CreateUserRunner => Some("`create_runner` or `api`"),
            Self::GetRunner(_) | Self::ListRunnerJobs(_) | Self::ListRunnerManagers(_) => {
                Some("`manage_runner`, `read_api` or `api`")
            }
            Self::UpdateRunner(_) | Self::DeleteRunner(_) | Self::ResetRunnerToken(_) => {
                Some("`manage_runner` or `api`")
            }
        }
    }

    /// What a 401 to this operation means.
    pub fn unauthorized_hint(self) -> String {
        match self.required_scopes() {
            Some(scopes) => format!(
                "the GitLab token is invalid, expired or revoked; supply a valid personal, group                  or project access token with the {scopes} scope"
            ),
            None => "the GitLab token is invalid, expired or revoked; supply a valid personal,                      group or project access token"
                .to_owned(),
        }
    }

    /// What a 404 to this operation means, beyond "not found" (empty when nothing to add).
    pub fn not_found_hint(self) -> &'static str {
        match self {
            Self::CreateUserRunner => {
                ": the group or project does not exist, or the token's user cannot see it                  (check group_id / project_id)"
            }
            _ => "",
        }
    }

    /// What to change when GitLab answers 403 to this operation.
    pub fn forbidden_hint(self) -> String {
        match self {
            Self::VerifyRunner => "the runner authentication token is not valid (mistyped, \
                expired, reset, or its runner was deleted): supply the runner's current `glrt-` token"
                .to_owned(),
            Self::GetCurrentUser => "the GitLab token needs the `read_user`, `read_api` or `api` \
                scope to tell whether its user is an administrator"
                .to_owned(),
            Self::CreateUserRunner => "the GitLab token needs the `create_runner` or `api` scope, \
                and its user must be an administrator (instance runners), an Owner of the group \
                (group runners) or a Maintainer of the project (project runners)"
                .to_owned(),
            Self::GetRunner(id) | Self::ListRunnerJobs(id) | Self::ListRunnerManagers(id) => {
                format!(
                    "the GitLab token needs the `manage_runner`, `read_api` or `api` scope, and its \
                     user must be able to manage runner {id} (an administrator for instance \
                     runners, an Owner of its group, or a Maintainer of its project)"
                )
            }
            Self::UpdateRunner(id) | Self::DeleteRunner(id) | Self::ResetRunnerToken(id) => format!(
                "the GitLab token needs the `manage_runner` or `api` scope, and its user must be \
                 able to manage runner {id} (an administrator for instance runners, an Owner of \
                 its group, or a Maintainer of its project)"
            ),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VerifyRunner => f.write_str("verifying the runner authentication token"),
            Self::GetRunner(id) => write!(f, "reading GitLab runner {id}"),
            Self::UpdateRunner(id) => write!(f, "updating GitLab runner {id}"),
            Self::ListRunnerJobs(id) => write!(f, "listing the jobs of GitLab runner {id}"),
            Self::ListRunnerManagers(id) => {
                write!(f, "listing the managers of GitLab runner {id}")
            }
            Self::DeleteRunner(id) => write!(f, "deleting GitLab runner {id}"),
            Self::CreateUserRunner => f.write_str("creating a GitLab runner"),
            Self::GetCurrentUser => f.write_str("reading the GitLab token's user"),
            Self::ResetRunnerToken(id) => {
                write!(
                    f,
                    "resetting the authentication token of GitLab runner {id}"
                )
            }
        }
    }
}
