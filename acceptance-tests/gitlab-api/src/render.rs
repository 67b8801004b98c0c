//! JSON bodies in the shapes GitLab's API entities produce.

use serde_json::{Value, json};

use crate::model::{Job, JobRecord, Manager, Project, Runner, RunnerType, TokenSpec};
use crate::timefmt::{format, format_opt};

/// `GET /runners/:id` (the "runner details" entity).
pub(crate) fn runner_details(runner: &Runner, status: &str, project: Option<&Project>) -> Value {
    let projects: Vec<Value> = project
        .map(|project| {
            vec![json!({
                "id": project.id,
                "name": project.name,
                "name_with_namespace": project.path_with_namespace.replace('/', " / "),
                "path": project.path_with_namespace.rsplit('/').next().unwrap_or_default(),
                "path_with_namespace": project.path_with_namespace,
            })]
        })
        .unwrap_or_default();
    let groups: Vec<Value> = runner
        .group_id
        .map(|id| vec![json!({"id": id, "name": format!("group-{id}"), "web_url": Value::Null})])
        .unwrap_or_default();
    json!({
        "id": runner.id,
        "description": runner.description,
        "ip_address": Value::Null,
        "active": !runner.paused,
        "paused": runner.paused,
        "is_shared": runner.runner_type == RunnerType::InstanceType,
        "runner_type": runner.runner_type.as_str(),
        "name": Value::Null,
        "online": status == "online",
        "status": status,
        "created_at": format(runner.created_at),
        "contacted_at": format_opt(runner.contacted_at),
        "maintenance_note": runner.maintenance_note,
        "tag_list": runner.tag_list,
        "run_untagged": runner.run_untagged,
        "locked": runner.locked,
        "maximum_timeout": runner.maximum_timeout,
        "access_level": runner.access_level.as_str(),
        "version": Value::Null,
        "revision": Value::Null,
        "platform": Value::Null,
        "architecture": Value::Null,
        "projects": projects,
        "groups": groups,
    })
}

/// The `{id, token, token_expires_at}` body of `POST /user/runners` and `POST /runners/verify`.
pub(crate) fn runner_token(runner: &Runner) -> Value {
    json!({
        "id": runner.id,
        "token": runner.token,
        "token_expires_at": format_opt(runner.token_expires_at),
    })
}

/// The web URL of a job.
pub(crate) fn job_web_url(base_url: &str, job: &Job, project: &Project) -> String {
    format!(
        "{base_url}/{}/-/jobs/{}",
        project.path_with_namespace, job.id
    )
}

/// One element of `GET /runners/:id/jobs`.
pub(crate) fn job(base_url: &str, job: &Job, project: &Project) -> Value {
    let duration = match (job.started_at, job.finished_at) {
        (Some(start), Some(end)) => json!((end - start).as_seconds_f64()),
        (Some(start), None) => json!((crate::timefmt::now() - start).as_seconds_f64()),
        _ => Value::Null,
    };
    let project_path = project
        .path_with_namespace
        .rsplit('/')
        .next()
        .unwrap_or_default();
    json!({
        "id": job.id,
        "status": job.status.as_str(),
        "stage": job.stage,
        "name": job.name,
        "ref": job.git_ref,
        "tag": false,
        "coverage": Value::Null,
        "allow_failure": false,
        "created_at": format(job.created_at),
        "started_at": format_opt(job.started_at),
        "finished_at": format_opt(job.finished_at),
        "erased_at": Value::Null,
        "duration": duration,
        "queued_duration": 0.0,
        "failure_reason": Value::Null,
        "web_url": job_web_url(base_url, job, project),
        "pipeline": {
            "id": job.pipeline_id,
            "project_id": project.id,
            "ref": job.git_ref,
            "status": job.status.as_str(),
            "web_url": format!("{base_url}/{}/-/pipelines/{}", project.path_with_namespace, job.pipeline_id),
        },
        "project": {
            "id": project.id,
            "name": project.name,
            "name_with_namespace": project.path_with_namespace.replace('/', " / "),
            "path": project_path,
            "path_with_namespace": project.path_with_namespace,
        },
    })
}

/// The test surface's view of a job.
pub(crate) fn job_record(base_url: &str, job: &Job, project: &Project) -> JobRecord {
    JobRecord {
        id: job.id,
        runner_id: job.runner_id,
        project_id: job.project_id,
        name: job.name.clone(),
        status: job.status,
        web_url: job_web_url(base_url, job, project),
    }
}

/// One element of `GET /runners/:id/managers`.
pub(crate) fn manager(manager: &Manager) -> Value {
    json!({
        "id": manager.id,
        "system_id": manager.system_id,
        "version": manager.version,
        "revision": manager.revision,
        "platform": manager.platform,
        "architecture": manager.architecture,
        "created_at": format(manager.created_at),
        "contacted_at": format_opt(manager.contacted_at),
        "ip_address": manager.ip_address,
        "status": manager.status,
        "job_execution_status": manager.job_execution_status,
    })
}

/// `GET /user`: the token's user. As in GitLab, `is_admin` is only shown to administrators.
pub(crate) fn current_user(token: &TokenSpec) -> Value {
    let mut user = json!({
        "id": user_id(&token.name),
        "username": token.name,
        "name": token.name,
        "state": "active",
        "locked": false,
    });
    if token.admin {
        user["is_admin"] = json!(true);
    }
    user
}

/// A stable user id derived from the token name (FNV-1a, kept small).
fn user_id(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 1_000_000 + 1
}
