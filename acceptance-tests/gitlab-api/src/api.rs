//! The GitLab REST endpoints (`/api/v4/...`) the provider uses.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::auth::{Access, authorize, may_manage_runner, may_see_project};
use crate::errors::ApiError;
use crate::model::{AccessLevel, JobStatus, Runner, RunnerType, TokenSpec};
use crate::pagination::{PageRequest, paginate};
use crate::params::Params;
use crate::render;
use crate::server::AppState;
use crate::store::{RunnerUpdate, UserRunnerRequest};

/// GitLab's reason when the user may not act on a runner.
const NO_ACCESS: &str = "No access granted";

/// The shortest `maximum_timeout` GitLab accepts, in seconds.
const MIN_MAXIMUM_TIMEOUT: u64 = 600;

/// Parameters `PUT /runners/:id` understands (at least one is required).
const UPDATABLE: [&str; 9] = [
    "description",
    "active",
    "paused",
    "tag_list",
    "run_untagged",
    "locked",
    "access_level",
    "maximum_timeout",
    "maintenance_note",
];

/// Routes under `/api/v4`.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v4/runners/verify", post(verify_runner))
        .route(
            "/api/v4/runners/{id}",
            get(get_runner).put(update_runner).delete(delete_runner),
        )
        .route("/api/v4/runners/{id}/jobs", get(list_runner_jobs))
        .route("/api/v4/runners/{id}/managers", get(list_runner_managers))
        .route("/api/v4/user/runners", post(create_user_runner))
        .route("/api/v4/user", get(current_user))
}

fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::InvalidParam("id is invalid".into()))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// The runner `raw_id` names, if it exists (404) and the caller may manage it (403).
fn managed_runner(state: &AppState, token: &TokenSpec, raw_id: &str) -> Result<Runner, ApiError> {
    let id = parse_id(raw_id)?;
    let runner = state.store.runner(id).ok_or(ApiError::RunnerNotFound)?;
    if !may_manage_runner(token, id) {
        return Err(ApiError::Forbidden(Some(NO_ACCESS)));
    }
    Ok(runner)
}

/// The runner `raw_id` names, if the caller may read its details: like
/// [`managed_runner`], except that instance runners are readable by every user.
fn readable_runner(state: &AppState, token: &TokenSpec, raw_id: &str) -> Result<Runner, ApiError> {
    let id = parse_id(raw_id)?;
    let runner = state.store.runner(id).ok_or(ApiError::RunnerNotFound)?;
    if runner.runner_type != RunnerType::InstanceType && !may_manage_runner(token, id) {
        return Err(ApiError::Forbidden(Some(NO_ACCESS)));
    }
    Ok(runner)
}

fn details(state: &AppState, runner: &Runner) -> Value {
    let status = state.store.runner_status(runner);
    let project = runner.project_id.map(|id| state.store.project(id));
    render::runner_details(runner, &status, project.as_ref())
}

async fn get_runner(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Read)?;
    let runner = readable_runner(&state, &token, &id)?;
    Ok(axum::Json(details(&state, &runner)).into_response())
}

async fn update_runner(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Manage)?;
    let params = Params::parse(query.as_deref(), content_type(&headers), &body)?;
    if !UPDATABLE.iter().any(|key| params.has(key)) {
        return Err(ApiError::InvalidParam(format!(
            "{} are missing, at least one parameter must be provided",
            UPDATABLE.join(", ")
        )));
    }
    let update = runner_settings(&params, ValidationStyle::FieldErrors)?;
    let runner = managed_runner(&state, &token, &id)?;
    let updated = state
        .store
        .update_runner(runner.id, update)
        .ok_or(ApiError::RunnerNotFound)?;
    Ok(axum::Json(details(&state, &updated)).into_response())
}

/// How a model validation failure is reported.
#[derive(Clone, Copy)]
enum ValidationStyle {
    /// `PUT /runners/:id`: `{"message": {"field": ["…"]}}`.
    FieldErrors,
    /// `POST /user/runners`: `{"message": "400 Bad request - Field …"}`.
    Sentence,
}

/// Reads the settings shared by `PUT /runners/:id` and `POST /user/runners`.
fn runner_settings(params: &Params, style: ValidationStyle) -> Result<RunnerUpdate, ApiError> {
    let active = params.boolean("active")?;
    let paused = params.boolean("paused")?;
    if active.is_some() && paused.is_some() {
        return Err(ApiError::InvalidParam(
            "active, paused are mutually exclusive".into(),
        ));
    }
    let access_level = match params.text("access_level")? {
        None => None,
        Some(text) => Some(AccessLevel::parse(&text).ok_or_else(|| {
            ApiError::InvalidParam("access_level does not have a valid value".into())
        })?),
    };
    let maximum_timeout = params.integer("maximum_timeout")?;
    if maximum_timeout.is_some_and(|seconds| seconds < MIN_MAXIMUM_TIMEOUT) {
        return Err(ApiError::BadRequest(match style {
            ValidationStyle::FieldErrors => {
                json!({"maximum_timeout": ["needs to be at least 10 minutes"]})
            }
            ValidationStyle::Sentence => {
                json!("400 Bad request - Maximum timeout needs to be at least 10 minutes")
            }
        }));
    }
    Ok(RunnerUpdate {
        description: params.text("description")?,
        paused: paused.or(active.map(|active| !active)),
        tag_list: params.list("tag_list")?,
        run_untagged: params.boolean("run_untagged")?,
        locked: params.boolean("locked")?,
        access_level,
        maximum_timeout,
        maintenance_note: params.text("maintenance_note")?,
    })
}

async fn delete_runner(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Manage)?;
    let runner = managed_runner(&state, &token, &id)?;
    if state.store.delete_runner(runner.id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::RunnerNotFound)
    }
}

async fn list_runner_jobs(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Read)?;
    let params = Params::parse(query.as_deref(), None, b"")?;
    let status =
        match params.text("status")? {
            None => None,
            Some(text) => Some(JobStatus::parse(&text).ok_or_else(|| {
                ApiError::InvalidParam("status does not have a valid value".into())
            })?),
        };
    let order_by = params.text("order_by")?;
    if order_by.as_deref().is_some_and(|value| value != "id") {
        return Err(ApiError::InvalidParam(
            "order_by does not have a valid value".into(),
        ));
    }
    let sort = params.text("sort")?;
    let descending = match sort.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            return Err(ApiError::InvalidParam(
                "sort does not have a valid value".into(),
            ));
        }
    };
    let page_request = PageRequest::from_params(&params)?;
    let runner = managed_runner(&state, &token, &id)?;

    let mut jobs: Vec<_> = state
        .store
        .runner_jobs(runner.id, status)
        .into_iter()
        .filter(|(job, _)| may_see_project(&token, job.project_id))
        .collect();
    // Without `order_by` GitLab leaves the database order (ascending ids in practice);
    // with `order_by=id` it honours `sort`, descending by default.
    if order_by.is_some() && descending {
        jobs.reverse();
    }
    let url = format!("{}/api/v4/runners/{}/jobs", state.base_url, runner.id);
    let query_pairs: Vec<(String, String)> = query
        .as_deref()
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let page = paginate(jobs, page_request, &url, &query_pairs);
    let body: Vec<Value> = page
        .items
        .iter()
        .map(|(job, project)| render::job(&state.base_url, job, project))
        .collect();
    Ok((page.headers, axum::Json(body)).into_response())
}

async fn list_runner_managers(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Read)?;
    let runner = readable_runner(&state, &token, &id)?;
    let body: Vec<Value> = state
        .store
        .managers(runner.id)
        .iter()
        .map(render::manager)
        .collect();
    Ok(axum::Json(body).into_response())
}

async fn verify_runner(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), content_type(&headers), &body)?;
    let token = params
        .text("token")?
        .ok_or_else(|| ApiError::InvalidParam("token is missing".into()))?;
    let runner = state
        .store
        .runner_by_token(&token)
        .ok_or(ApiError::Forbidden(None))?;
    if let Some(system_id) = params.text("system_id")? {
        state.store.touch_manager(runner.id, &system_id);
    }
    Ok(axum::Json(render::runner_token(&runner)).into_response())
}

async fn create_user_runner(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::Create)?;
    let params = Params::parse(query.as_deref(), content_type(&headers), &body)?;
    let runner_type = params
        .text("runner_type")?
        .ok_or_else(|| ApiError::InvalidParam("runner_type is missing".into()))?;
    let runner_type = RunnerType::parse(&runner_type)
        .ok_or_else(|| ApiError::InvalidParam("runner_type does not have a valid value".into()))?;
    let group_id = params.integer("group_id")?;
    let project_id = params.integer("project_id")?;
    // GitLab's `given runner_type: … requires :group_id / :project_id`.
    let (group_id, project_id) = match runner_type {
        RunnerType::InstanceType => (None, None),
        RunnerType::GroupType => (
            Some(group_id.ok_or_else(|| ApiError::InvalidParam("group_id is missing".into()))?),
            None,
        ),
        RunnerType::ProjectType => (
            None,
            Some(project_id.ok_or_else(|| ApiError::InvalidParam("project_id is missing".into()))?),
        ),
    };
    let settings = runner_settings(&params, ValidationStyle::Sentence)?;
    check_runner_scope(&token, runner_type, group_id, project_id)?;
    let runner = state.store.create_user_runner(
        &token.name,
        UserRunnerRequest {
            runner_type,
            group_id,
            project_id,
            update: settings,
        },
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(render::runner_token(&runner)),
    )
        .into_response())
}

/// Whether the caller may create a runner of this type there: administrators anywhere,
/// others in groups they own or projects they can see.
fn check_runner_scope(
    token: &TokenSpec,
    runner_type: RunnerType,
    group_id: Option<u64>,
    project_id: Option<u64>,
) -> Result<(), ApiError> {
    let allowed = token.admin
        || match runner_type {
            RunnerType::InstanceType => false,
            RunnerType::GroupType => group_id.is_some_and(|id| token.groups.contains(&id)),
            RunnerType::ProjectType => project_id.is_some_and(|id| token.projects.contains(&id)),
        };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(Some("Insufficient permissions")))
    }
}

async fn current_user(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = authorize(&state.store, &headers, Access::ReadUser)?;
    Ok(axum::Json(render::current_user(&token)).into_response())
}
