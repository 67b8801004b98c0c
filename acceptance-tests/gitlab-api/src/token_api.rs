//! Runner token rotation and expiry: the two reset endpoints of GitLab's API and the test
//! surface that sets `runner_token_expiration_interval` and moves the server's clock.
//!
//! | route | |
//! |---|---|
//! | `POST /api/v4/runners/:id/reset_authentication_token` | `PRIVATE-TOKEN` of a user who manages the runner → 201 `{token, token_expires_at}` |
//! | `POST /api/v4/runners/reset_authentication_token` | `token` = the runner's current token (what the runner process does) → 201 `{token, token_expires_at}`; 403 for an unknown or expired token |
//! | `PUT /-/test/settings` | `{"runner_token_expiration_interval": seconds \| null}` |
//! | `POST /-/test/clock` | `{"advance_secs": n}` → `{"now": "…"}` |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Access, authorize, may_manage_runner};
use crate::errors::ApiError;
use crate::model::Runner;
use crate::params::Params;
use crate::server::AppState;
use crate::timefmt::{format, format_opt};

/// Body of `PUT /-/test/settings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceSettings {
    /// Seconds a newly issued runner token is valid; `None` = no expiry.
    pub runner_token_expiration_interval: Option<u64>,
}

/// Body of `POST /-/test/clock`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceClock {
    /// Seconds to move the server's clock forward (negative moves it back).
    pub advance_secs: i64,
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v4/runners/reset_authentication_token",
            post(reset_own_token),
        )
        .route(
            "/api/v4/runners/{id}/reset_authentication_token",
            post(reset_token),
        )
        .route("/-/test/settings", put(put_settings))
        .route("/-/test/clock", post(advance_clock))
}

/// GitLab's `ResetTokenResult` entity.
fn reset_result(runner: &Runner) -> Response {
    (
        StatusCode::CREATED,
        Json(json!({
            "token": runner.token,
            "token_expires_at": format_opt(runner.token_expires_at),
        })),
    )
        .into_response()
}

async fn reset_token(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Manage)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::InvalidParam("id is invalid".into()))?;
    state.store.runner(id).ok_or(ApiError::RunnerNotFound)?;
    if !may_manage_runner(&token, id) {
        return Err(ApiError::Forbidden(Some("No access granted")));
    }
    let runner = state
        .store
        .reset_runner_token(id)
        .ok_or(ApiError::RunnerNotFound)?;
    Ok(reset_result(&runner))
}

async fn reset_own_token(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let params = Params::parse(query.as_deref(), content_type, &body)?;
    let token = params
        .text("token")?
        .ok_or_else(|| ApiError::InvalidParam("token is missing".into()))?;
    let runner = state
        .store
        .reset_own_token(&token)
        .map_err(|_| ApiError::Forbidden(None))?;
    Ok(reset_result(&runner))
}

async fn put_settings(
    State(state): State<Arc<AppState>>,
    Json(settings): Json<InstanceSettings>,
) -> StatusCode {
    state
        .store
        .set_token_expiration_interval(settings.runner_token_expiration_interval);
    StatusCode::NO_CONTENT
}

async fn advance_clock(
    State(state): State<Arc<AppState>>,
    Json(body): Json<AdvanceClock>,
) -> Json<Value> {
    let now = state.store.advance_clock(body.advance_secs);
    Json(json!({ "now": format(now) }))
}
