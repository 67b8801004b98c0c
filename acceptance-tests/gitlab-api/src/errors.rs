//! Error responses in GitLab's shapes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error, rendered as GitLab renders it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// 401 `{"message":"401 Unauthorized"}`: no token, or one GitLab does not know.
    Unauthorized,
    /// 403 `{"message":"403 Forbidden"}`, or `"403 Forbidden - <reason>"` with a reason
    /// (GitLab's `forbidden!`): the user lacks the role or ownership needed.
    Forbidden(Option<&'static str>),
    /// 403 in the OAuth shape GitLab uses when the token lacks a scope.
    InsufficientScope(&'static [&'static str]),
    /// 404 `{"message":"404 Runner Not Found"}`: an unknown runner.
    RunnerNotFound,
    /// 404 `{"error":"404 Not Found"}`: no such route.
    RouteNotFound,
    /// 400 `{"error": "..."}`: a parameter failed validation.
    InvalidParam(String),
    /// 400 `{"message": ...}`: the request was well-formed but refused.
    BadRequest(Value),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"message": "401 Unauthorized"}),
            ),
            Self::Forbidden(reason) => {
                let message = reason.map_or_else(
                    || "403 Forbidden".to_owned(),
                    |reason| format!("403 Forbidden - {reason}"),
                );
                (StatusCode::FORBIDDEN, json!({ "message": message }))
            }
            Self::InsufficientScope(scopes) => (
                StatusCode::FORBIDDEN,
                json!({
                    "error": "insufficient_scope",
                    "error_description":
                        "The request requires higher privileges than provided by the access token.",
                    "scope": scopes.join(" "),
                }),
            ),
            Self::RunnerNotFound => (
                StatusCode::NOT_FOUND,
                json!({"message": "404 Runner Not Found"}),
            ),
            Self::RouteNotFound => (StatusCode::NOT_FOUND, json!({"error": "404 Not Found"})),
            Self::InvalidParam(error) => (StatusCode::BAD_REQUEST, json!({ "error": error })),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, json!({ "message": message })),
        };
        (status, Json(body)).into_response()
    }
}
