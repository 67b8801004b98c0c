//! The one error type of this crate.

use std::time::Duration;

use crate::operation::Operation;

/// A failed GitLab API call, classified so callers can decide to retry, stop or carry on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitlabError {
    /// 401: the token is missing, unknown, expired or revoked.
    #[error("{operation}: GitLab answered 401 Unauthorized: {hint}", hint = operation.unauthorized_hint())]
    Unauthorized {
        /// What was attempted.
        operation: Operation,
    },
    /// 403: the token lacks a scope, or its user lacks the role.
    #[error("{operation}: GitLab answered 403 Forbidden{detail}: {hint}", hint = operation.forbidden_hint())]
    Forbidden {
        /// What was attempted.
        operation: Operation,
        /// GitLab's explanation, as ` (…)`, or empty.
        detail: String,
    },
    /// 404: the runner (or route) does not exist.
    #[error("{operation}: GitLab answered 404 Not Found{detail}{hint}", hint = operation.not_found_hint())]
    NotFound {
        /// What was attempted.
        operation: Operation,
        /// GitLab's message, as ` (…)`, or empty.
        detail: String,
    },
    /// 429: GitLab's rate limiter refused the request.
    #[error("{operation}: GitLab is rate limiting requests (429 Too Many Requests){}",
        retry_after.map(|wait| format!(", retry after {}s", wait.as_secs())).unwrap_or_default())]
    RateLimited {
        /// What was attempted.
        operation: Operation,
        /// How long GitLab asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// 5xx: GitLab (or a proxy in front of it) failed.
    #[error("{operation}: GitLab answered {status} (server error){detail}")]
    Server {
        /// What was attempted.
        operation: Operation,
        /// The status code.
        status: u16,
        /// GitLab's message, as ` (…)`, or empty.
        detail: String,
        /// `Retry-After`, when the server sent one (e.g. with 503).
        retry_after: Option<Duration>,
    },
    /// Another 4xx: GitLab refused the request's content.
    #[error("{operation}: GitLab refused the request with {status}{detail}")]
    Rejected {
        /// What was attempted.
        operation: Operation,
        /// The status code.
        status: u16,
        /// GitLab's message, as ` (…)`, or empty.
        detail: String,
    },
    /// The request did not complete (connection refused or dropped, timeout, TLS failure).
    #[error("{operation}: could not get an answer from GitLab: {detail}")]
    Transport {
        /// What was attempted.
        operation: Operation,
        /// The transport failure, with its causes.
        detail: String,
        /// Whether the failure was a timeout.
        timed_out: bool,
    },
    /// The TLS handshake failed (untrusted or mismatched certificate, protocol mismatch):
    /// retrying cannot help.
    #[error(
        "{operation}: the TLS connection to GitLab failed: {detail}; if GitLab uses a private \
         CA, give its certificate (PEM) in the CA certificates setting"
    )]
    Tls {
        /// What was attempted.
        operation: Operation,
        /// The TLS failure.
        detail: String,
    },
    /// GitLab (or a proxy in front of it) redirected to another scheme, host or port. The
    /// redirect was not followed: nothing, and no credential, was sent there.
    #[error(
        "{operation}: GitLab answered with a redirect to {to}, another origin (scheme, host or \
         port) than {from}; redirects are followed only within the same origin, so the GitLab \
         token and the runner token are never sent across origins and nothing was sent to {to}. \
         If GitLab really lives there, set the GitLab URL to that address"
    )]
    RedirectRefused {
        /// What was attempted.
        operation: Operation,
        /// The URL the request was sent to (no query or user information).
        from: String,
        /// Where the redirect pointed (no query or user information).
        to: String,
    },
    /// Same-origin redirects went on and on.
    #[error(
        "{operation}: GitLab redirected more than {max} times (last to {to}); check the GitLab URL"
    )]
    TooManyRedirects {
        /// What was attempted.
        operation: Operation,
        /// The redirect limit.
        max: usize,
        /// The redirect that was not followed (no query or user information).
        to: String,
    },
    /// GitLab answered with a body this crate does not understand.
    #[error("{operation}: GitLab's answer could not be read: {detail}")]
    Decode {
        /// What was attempted.
        operation: Operation,
        /// What was wrong.
        detail: String,
    },
    /// The client configuration is unusable.
    #[error("invalid GitLab client configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Retrying stopped at the deadline.
    #[error(
        "gave up after {attempts} attempt(s) because the time allowed ran out; last error: {last}"
    )]
    DeadlineExceeded {
        /// Attempts made.
        attempts: u32,
        /// The last failure (or a timeout of the last attempt).
        last: Box<GitlabError>,
    },
    /// Retrying stopped after the allowed number of attempts.
    #[error("gave up after {attempts} attempt(s); last error: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<GitlabError>,
    },
    /// The caller cancelled the operation.
    #[error("cancelled while talking to GitLab{}", last.as_ref().map(|last| format!("; last error: {last}")).unwrap_or_default())]
    Cancelled {
        /// The last failure before cancellation, if any.
        last: Option<Box<GitlabError>>,
    },
}

impl GitlabError {
    /// Whether trying again later may succeed: 429, 5xx, 408 and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. } => true,
            Self::Rejected { status, .. } => *status == 408,
            _ => false,
        }
    }

    /// How long the server asked to wait before the next try.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether this is (or, after retries, ended with) a 404.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::NotFound { .. } => true,
            Self::DeadlineExceeded { last, .. } | Self::RetriesExhausted { last, .. } => {
                last.is_not_found()
            }
            _ => false,
        }
    }

    /// Whether the token was refused (401 or 403): retrying cannot help, the user must act.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::Unauthorized { .. } | Self::Forbidden { .. })
    }

    /// The operation that failed, when the error belongs to one.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Self::Unauthorized { operation }
            | Self::Forbidden { operation, .. }
            | Self::NotFound { operation, .. }
            | Self::RateLimited { operation, .. }
            | Self::Server { operation, .. }
            | Self::Rejected { operation, .. }
            | Self::Transport { operation, .. }
            | Self::Tls { operation, .. }
            | Self::RedirectRefused { operation, .. }
            | Self::TooManyRedirects { operation, .. }
            | Self::Decode { operation, .. } => Some(*operation),
            Self::DeadlineExceeded { last, .. } | Self::RetriesExhausted { last, .. } => {
                last.operation()
            }
            Self::Cancelled { last } => last.as_ref().and_then(|last| last.operation()),
            Self::InvalidConfig { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable() {
        let op = Operation::GetRunner(1);
        let retryable = [
            GitlabError::RateLimited {
                operation: op,
                retry_after: None,
            },
            GitlabError::Server {
                operation: op,
                status: 502,
                detail: String::new(),
                retry_after: None,
            },
            GitlabError::Transport {
                operation: op,
                detail: "reset".into(),
                timed_out: false,
            },
            GitlabError::Rejected {
                operation: op,
                status: 408,
                detail: String::new(),
            },
        ];
        for error in retryable {
            assert!(error.is_retryable(), "{error}");
        }
        let final_errors = [
            GitlabError::Unauthorized { operation: op },
            GitlabError::Forbidden {
                operation: op,
                detail: String::new(),
            },
            GitlabError::NotFound {
                operation: op,
                detail: String::new(),
            },
            GitlabError::Rejected {
                operation: op,
                status: 400,
                detail: String::new(),
            },
            GitlabError::Decode {
                operation: op,
                detail: "x".into(),
            },
        ];
        for error in final_errors {
            assert!(!error.is_retryable(), "{error}");
        }
    }

    #[test]
    fn forbidden_message_says_what_to_fix() {
        let error = GitlabError::Forbidden {
            operation: Operation::UpdateRunner(42),
            detail: String::new(),
        };
        assert_eq!(
            error.to_string(),
            "updating GitLab runner 42: GitLab answered 403 Forbidden: the GitLab token needs the \
             `manage_runner` or `api` scope, and its user must be able to manage runner 42 (an \
             administrator for instance runners, an Owner of its group, or a Maintainer of its \
             project)"
        );
    }

    #[test]
    fn wrapped_errors_keep_their_operation_and_kind() {
        let error = GitlabError::DeadlineExceeded {
            attempts: 3,
            last: Box::new(GitlabError::NotFound {
                operation: Operation::DeleteRunner(9),
                detail: String::new(),
            }),
        };
        assert!(error.is_not_found());
        assert_eq!(error.operation(), Some(Operation::DeleteRunner(9)));
        assert!(error.to_string().starts_with("gave up after 3 attempt(s)"));
    }
}
