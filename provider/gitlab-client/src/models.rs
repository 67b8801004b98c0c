//! What GitLab answers, and what `POST /user/runners` takes.
//!
//! Fields GitLab may omit (older versions, other editions) are `Option`s; unknown fields are
//! ignored, so newer GitLab versions keep working.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

/// The runner an authentication token belongs to (`POST /runners/verify`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunnerIdentity {
    /// Runner id.
    pub id: u64,
    /// When the token expires (RFC 3339), `None` if it does not.
    #[serde(default)]
    pub token_expires_at: Option<String>,
}

/// The user a token belongs to (`GET /user`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CurrentUser {
    /// User id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// Whether the user is an instance administrator (GitLab shows the field to
    /// administrators only, so its absence means `false`).
    #[serde(default)]
    pub is_admin: bool,
}

/// A runner's details (`GET /runners/:id`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawRunner")]
pub struct Runner {
    /// Runner id.
    pub id: u64,
    /// Description.
    pub description: Option<String>,
    /// Whether the runner is paused (from `paused`, or the inverse of the older `active`).
    pub paused: bool,
    /// `online`, `offline`, `stale` or `never_contacted`.
    pub status: Option<String>,
    /// `instance_type`, `group_type` or `project_type`.
    pub runner_type: Option<String>,
    /// Tags.
    pub tag_list: Vec<String>,
    /// Whether untagged jobs run.
    pub run_untagged: Option<bool>,
    /// Whether the runner is locked to its projects.
    pub locked: Option<bool>,
    /// `not_protected` or `ref_protected`.
    pub access_level: Option<String>,
    /// Maximum job timeout in seconds.
    pub maximum_timeout: Option<u64>,
    /// Last contact (RFC 3339).
    pub contacted_at: Option<String>,
    /// Maintenance note.
    pub maintenance_note: Option<String>,
    /// Ids of the groups a group runner belongs to.
    pub group_ids: Vec<u64>,
    /// Ids of the projects a project runner is assigned to (the owner first).
    pub project_ids: Vec<u64>,
}

/// An entry of a runner's `groups` / `projects`.
#[derive(Deserialize)]
struct IdOnly {
    id: u64,
}

#[derive(Deserialize)]
struct RawRunner {
    id: u64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    paused: Option<bool>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    runner_type: Option<String>,
    #[serde(default)]
    tag_list: Option<Vec<String>>,
    #[serde(default)]
    run_untagged: Option<bool>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    access_level: Option<String>,
    #[serde(default)]
    maximum_timeout: Option<u64>,
    #[serde(default)]
    contacted_at: Option<String>,
    #[serde(default)]
    maintenance_note: Option<String>,
    #[serde(default)]
    groups: Option<Vec<IdOnly>>,
    #[serde(default)]
    projects: Option<Vec<IdOnly>>,
}

impl From<RawRunner> for Runner {
    fn from(raw: RawRunner) -> Self {
        Self {
            id: raw.id,
            description: raw.description,
            paused: raw
                .paused
                .unwrap_or_else(|| raw.active.is_some_and(|active| !active)),
            status: raw.status,
            runner_type: raw.runner_type,
            tag_list: raw.tag_list.unwrap_or_default(),
            run_untagged: raw.run_untagged,
            locked: raw.locked,
            access_level: raw.access_level,
            maximum_timeout: raw.maximum_timeout,
            contacted_at: raw.contacted_at,
            maintenance_note: raw.maintenance_note,
            group_ids: ids(raw.groups),
            project_ids: ids(raw.projects),
        }
    }
}

fn ids(entries: Option<Vec<IdOnly>>) -> Vec<u64> {
    entries
        .unwrap_or_default()
        .into_iter()
        .map(|entry| entry.id)
        .collect()
}

/// A job a runner processed (`GET /runners/:id/jobs`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: u64,
    /// `running`, `pending`, `success`, `failed`, `canceled`, …
    pub status: String,
    /// Stage.
    #[serde(default)]
    pub stage: Option<String>,
    /// Job name.
    #[serde(default)]
    pub name: Option<String>,
    /// Git ref.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Start time (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// End time (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Link to the job page.
    #[serde(default)]
    pub web_url: Option<String>,
    /// The job's project.
    #[serde(default)]
    pub project: Option<JobProject>,
    /// The job's pipeline.
    #[serde(default)]
    pub pipeline: Option<JobPipeline>,
}

impl Job {
    /// `#123 build (group/project)` — for progress and error messages.
    pub fn summary(&self) -> String {
        let name = self.name.as_deref().unwrap_or("job");
        match self
            .project
            .as_ref()
            .and_then(|project| project.path_with_namespace.as_deref())
        {
            Some(path) => format!("#{} {name} ({path})", self.id),
            None => format!("#{} {name}", self.id),
        }
    }
}

/// The project part of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobProject {
    /// Project id.
    pub id: u64,
    /// Project name.
    #[serde(default)]
    pub name: Option<String>,
    /// Full path.
    #[serde(default)]
    pub path_with_namespace: Option<String>,
}

/// The pipeline part of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobPipeline {
    /// Pipeline id.
    pub id: u64,
}

/// A runner manager (`GET /runners/:id/managers`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manager {
    /// Manager id.
    pub id: u64,
    /// System id of the process (`r_…` or `s_…`).
    pub system_id: String,
    /// `online`, `offline`, `stale` or `never_contacted`.
    #[serde(default)]
    pub status: Option<String>,
    /// `active` or `idle` (newer GitLab).
    #[serde(default)]
    pub job_execution_status: Option<String>,
    /// Runner version.
    #[serde(default)]
    pub version: Option<String>,
    /// Platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last contact (RFC 3339).
    #[serde(default)]
    pub contacted_at: Option<String>,
}

impl Manager {
    /// Whether GitLab reports this manager executing jobs (`job_execution_status = active`).
    pub fn is_executing_jobs(&self) -> bool {
        self.job_execution_status.as_deref() == Some("active")
    }
}

/// The result of `POST /user/runners`. The token is shown once: keep it.
pub struct CreatedRunner {
    /// Runner id.
    pub id: u64,
    /// The runner authentication token (`glrt-…`).
    pub token: SecretString,
    /// When the token expires, if it does.
    pub token_expires_at: Option<String>,
}

impl fmt::Debug for CreatedRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedRunner")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("token_expires_at", &self.token_expires_at)
            .finish()
    }
}

#[derive(Deserialize)]
pub(crate) struct RawCreatedRunner {
    pub id: u64,
    pub token: String,
    #[serde(default)]
    pub token_expires_at: Option<String>,
}

impl From<RawCreatedRunner> for CreatedRunner {
    fn from(raw: RawCreatedRunner) -> Self {
        Self {
            id: raw.id,
            token: SecretString::from(raw.token),
            token_expires_at: raw.token_expires_at,
        }
    }
}

/// A runner's new authentication token (`POST /runners/:id/reset_authentication_token`). The
/// old token stopped working. Shown once: keep it.
pub struct ResetToken {
    /// The new runner authentication token (`glrt-…`).
    pub token: SecretString,
    /// When it expires, if it does.
    pub token_expires_at: Option<String>,
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetToken")
            .field("token", &"<redacted>")
            .field("token_expires_at", &self.token_expires_at)
            .finish()
    }
}

#[derive(Deserialize)]
pub(crate) struct RawResetToken {
    pub token: String,
    #[serde(default)]
    pub token_expires_at: Option<String>,
}

impl From<RawResetToken> for ResetToken {
    fn from(raw: RawResetToken) -> Self {
        Self {
            token: SecretString::from(raw.token),
            token_expires_at: raw.token_expires_at,
        }
    }
}

/// The settings of `PUT /runners/:id` (and of `POST /user/runners`); `None` leaves a setting
/// as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerSettings {
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tag_list: Option<Vec<String>>,
    /// Whether untagged jobs run.
    pub run_untagged: Option<bool>,
    /// Locked to its projects.
    pub locked: Option<bool>,
    /// Paused.
    pub paused: Option<bool>,
    /// Access level.
    pub access_level: Option<AccessLevel>,
    /// Maximum job timeout in seconds (GitLab requires at least 600).
    pub maximum_timeout: Option<u64>,
    /// Maintenance note.
    pub maintenance_note: Option<String>,
}

impl RunnerSettings {
    /// Whether no setting is given (GitLab refuses an empty update).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl CreateRunner {
    /// The settings part (everything but the scope).
    pub fn settings(&self) -> RunnerSettings {
        RunnerSettings {
            description: self.description.clone(),
            tag_list: self.tag_list.clone(),
            run_untagged: self.run_untagged,
            locked: self.locked,
            paused: self.paused,
            access_level: self.access_level,
            maximum_timeout: self.maximum_timeout,
            maintenance_note: self.maintenance_note.clone(),
        }
    }
}

/// Where a new runner belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunnerScope {
    /// Instance runner (administrators only).
    #[default]
    Instance,
    /// Group runner.
    Group(u64),
    /// Project runner.
    Project(u64),
}

/// Whether a runner takes jobs from protected refs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    /// Any ref.
    NotProtected,
    /// Protected refs only.
    RefProtected,
}

impl AccessLevel {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotProtected => "not_protected",
            Self::RefProtected => "ref_protected",
        }
    }
}

/// Parameters of `POST /user/runners`; `None` leaves GitLab's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRunner {
    /// Instance, group or project runner.
    pub scope: RunnerScope,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tag_list: Option<Vec<String>>,
    /// Whether untagged jobs run.
    pub run_untagged: Option<bool>,
    /// Locked to its projects.
    pub locked: Option<bool>,
    /// Start paused.
    pub paused: Option<bool>,
    /// Access level.
    pub access_level: Option<AccessLevel>,
    /// Maximum job timeout in seconds (GitLab requires at least 600).
    pub maximum_timeout: Option<u64>,
    /// Maintenance note.
    pub maintenance_note: Option<String>,
}

/// What `delete_runner` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// GitLab deleted the runner.
    Deleted,
    /// The runner did not exist (already deleted): nothing to do.
    AlreadyGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_falls_back_to_the_inverse_of_active() {
        let old: Runner = serde_json::from_str(r#"{"id": 1, "active": false}"#).unwrap();
        assert!(old.paused);
        let new: Runner =
            serde_json::from_str(r#"{"id": 1, "active": false, "paused": false}"#).unwrap();
        assert!(!new.paused);
        let bare: Runner = serde_json::from_str(r#"{"id": 1, "tag_list": null}"#).unwrap();
        assert!(!bare.paused);
        assert!(bare.tag_list.is_empty());
    }

    #[test]
    fn groups_projects_and_note_are_read() {
        let runner: Runner = serde_json::from_str(
            r#"{"id": 1, "maintenance_note": "n", "groups": [{"id": 4, "name": "g"}],
                "projects": [{"id": 7}, {"id": 9}]}"#,
        )
        .unwrap();
        assert_eq!(runner.maintenance_note.as_deref(), Some("n"));
        assert_eq!(runner.group_ids, vec![4]);
        assert_eq!(runner.project_ids, vec![7, 9]);
    }

    #[test]
    fn reset_token_debug_hides_the_token() {
        let reset: ResetToken = serde_json::from_str::<RawResetToken>(
            r#"{"token": "glrt-t1_resetsecret", "token_expires_at": "2030-01-01T00:00:00.000Z"}"#,
        )
        .unwrap()
        .into();
        let printed = format!("{reset:?}");
        assert!(!printed.contains("resetsecret"), "{printed}");
        assert!(printed.contains("2030"));
    }

    #[test]
    fn created_runner_debug_hides_the_token() {
        let created: CreatedRunner = serde_json::from_str::<RawCreatedRunner>(
            r#"{"id": 5, "token": "glrt-t1_secretsecret", "token_expires_at": null}"#,
        )
        .unwrap()
        .into();
        let printed = format!("{created:?}");
        assert!(!printed.contains("secretsecret"), "{printed}");
        assert!(printed.contains('5'));
    }

    #[test]
    fn job_summary_names_the_project_when_known() {
        let job: Job = serde_json::from_str(
            r#"{"id": 7, "status": "running", "name": "build",
                "project": {"id": 3, "path_with_namespace": "acme/web"}}"#,
        )
        .unwrap();
        assert_eq!(job.summary(), "#7 build (acme/web)");
    }
}
