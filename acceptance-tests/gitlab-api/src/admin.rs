//! The test surface under `/-/test/` (no authentication; never under `/api/v4`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::model::{
    FaultRule, JobRecord, JobStatus, NewJob, NewManager, NewRunner, Project, SetJobStatus,
    SetProjects, TokenSpec,
};
use crate::render;
use crate::server::AppState;
use crate::store::StoreError;

/// Path prefix of the test surface.
pub const TEST_PREFIX: &str = "/-/test";

/// Routes under [`TEST_PREFIX`].
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/-/test/reset", post(reset))
        .route("/-/test/tokens", post(put_token))
        .route("/-/test/tokens/{name}/projects", put(set_token_projects))
        .route("/-/test/projects", post(put_project))
        .route("/-/test/runners", post(create_runner))
        .route(
            "/-/test/runners/{id}",
            get(get_runner).delete(delete_runner),
        )
        .route("/-/test/runners/{id}/managers", post(add_manager))
        .route("/-/test/runners/{id}/jobs", post(start_job))
        .route("/-/test/jobs/{id}", get(get_job))
        .route("/-/test/jobs/{id}/status", put(set_job_status))
        .route(
            "/-/test/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route(
            "/-/test/requests",
            get(request_log).delete(clear_request_log),
        )
}

/// A test-surface failure: `{"error": "..."}` with a fitting status.
struct AdminError(StoreError);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            StoreError::UnknownRunner(_)
            | StoreError::UnknownJob(_)
            | StoreError::UnknownToken(_) => StatusCode::NOT_FOUND,
            StoreError::RunnerIdTaken(_) | StoreError::RunnerTokenTaken => StatusCode::CONFLICT,
        };
        (status, Json(json!({"error": self.0.to_string()}))).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        Self(error)
    }
}

async fn reset(State(state): State<Arc<AppState>>) -> Result<StatusCode, AdminError> {
    state.store.reset()?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_token(State(state): State<Arc<AppState>>, Json(spec): Json<TokenSpec>) -> StatusCode {
    state.store.put_token(spec);
    StatusCode::CREATED
}

async fn set_token_projects(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Json(body): Json<SetProjects>,
) -> Result<StatusCode, AdminError> {
    state.store.set_token_projects(&name, body.projects)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_project(
    State(state): State<Arc<AppState>>,
    Json(project): Json<Project>,
) -> StatusCode {
    state.store.put_project(project);
    StatusCode::CREATED
}

async fn create_runner(
    State(state): State<Arc<AppState>>,
    Json(new): Json<NewRunner>,
) -> Result<Response, AdminError> {
    let record = state.store.create_runner(new)?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn get_runner(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Response, AdminError> {
    let record = state
        .store
        .runner_record(id)
        .ok_or(StoreError::UnknownRunner(id))?;
    Ok(Json(record).into_response())
}

async fn delete_runner(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<StatusCode, AdminError> {
    if state.store.delete_runner(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(StoreError::UnknownRunner(id).into())
    }
}

async fn add_manager(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
    Json(new): Json<NewManager>,
) -> Result<Response, AdminError> {
    let manager = state.store.add_manager(id, new)?;
    Ok((StatusCode::CREATED, Json(render::manager(&manager))).into_response())
}

async fn start_job(
    State(state): State<Arc<AppState>>,
    Path(runner_id): Path<u64>,
    Json(new): Json<NewJob>,
) -> Result<Response, AdminError> {
    let (job, project) = state.store.start_job(runner_id, &new)?;
    if let Some(millis) = new.finish_after_ms {
        let finish_status = new.finish_status.unwrap_or(JobStatus::Success);
        let generation = state.store.generation();
        let timer_state = Arc::clone(&state);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            timer_state
                .store
                .finish_job_if_current(job.id, generation, finish_status);
        });
    }
    let record: JobRecord = render::job_record(&state.base_url, &job, &project);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn get_job(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Response, AdminError> {
    let (job, project) = state.store.job(id).ok_or(StoreError::UnknownJob(id))?;
    Ok(Json(render::job_record(&state.base_url, &job, &project)).into_response())
}

async fn set_job_status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
    Json(body): Json<SetJobStatus>,
) -> Result<Response, AdminError> {
    let job = state.store.set_job_status(id, body.status)?;
    let project = state.store.project(job.project_id);
    Ok(Json(render::job_record(&state.base_url, &job, &project)).into_response())
}

async fn add_fault(State(state): State<Arc<AppState>>, Json(rule): Json<FaultRule>) -> StatusCode {
    state.store.add_fault(rule);
    StatusCode::CREATED
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Response {
    Json(state.store.faults()).into_response()
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    state.store.clear_faults();
    StatusCode::NO_CONTENT
}

async fn request_log(State(state): State<Arc<AppState>>) -> Response {
    Json(state.store.request_log()).into_response()
}

async fn clear_request_log(State(state): State<Arc<AppState>>) -> StatusCode {
    state.store.clear_request_log();
    StatusCode::NO_CONTENT
}
