//! The objects the server keeps, and the JSON shapes of the test (admin) surface.
//!
//! Types here are shared by the server and [`crate::AdminClient`], so a test and the
//! server can never disagree on a field name.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A personal/project access-token scope that matters to the runner endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Full API access.
    Api,
    /// Read-only API access (GET requests).
    ReadApi,
    /// Manage runners: read, update and delete runners the user may manage.
    ManageRunner,
    /// Create runners (`POST /user/runners`).
    CreateRunner,
    /// Read the user's own profile (`GET /user`).
    ReadUser,
}

/// An access token the server accepts in `PRIVATE-TOKEN` or `Authorization: Bearer`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// A name used in the request log in place of the secret value.
    pub name: String,
    /// The secret value clients send.
    pub token: String,
    /// Whether the token's user is an instance administrator (sees and manages everything).
    #[serde(default)]
    pub admin: bool,
    /// Scopes granted to the token.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<Scope>,
    /// Projects the user can see with at least the Reporter role: their jobs are listed.
    #[serde(default)]
    pub projects: Vec<u64>,
    /// Groups the user owns: group runners may be created in them.
    #[serde(default)]
    pub groups: Vec<u64>,
    /// Runners the user may manage (read, update, delete) without being an administrator.
    #[serde(default)]
    pub runners: Vec<u64>,
}

fn default_scopes() -> Vec<Scope> {
    vec![Scope::Api]
}

impl fmt::Debug for TokenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSpec")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("admin", &self.admin)
            .field("scopes", &self.scopes)
            .field("projects", &self.projects)
            .field("groups", &self.groups)
            .field("runners", &self.runners)
            .finish()
    }
}

impl TokenSpec {
    /// An administrator token with the `api` scope.
    pub fn admin(name: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            token: token.into(),
            admin: true,
            scopes: default_scopes(),
            projects: Vec::new(),
            groups: Vec::new(),
            runners: Vec::new(),
        }
    }

    /// A non-administrator token with the given scopes and nothing visible yet.
    pub fn user(name: impl Into<String>, token: impl Into<String>, scopes: &[Scope]) -> Self {
        Self {
            name: name.into(),
            token: token.into(),
            admin: false,
            scopes: scopes.to_vec(),
            projects: Vec::new(),
            groups: Vec::new(),
            runners: Vec::new(),
        }
    }

    /// Whether any of `wanted` is among the token's scopes.
    pub fn has_any_scope(&self, wanted: &[Scope]) -> bool {
        self.scopes.iter().any(|scope| wanted.contains(scope))
    }
}

/// The scope a runner belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunnerType {
    /// Available to every project of the instance.
    #[default]
    InstanceType,
    /// Available to the projects of a group.
    GroupType,
    /// Available to assigned projects.
    ProjectType,
}

impl RunnerType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceType => "instance_type",
            Self::GroupType => "group_type",
            Self::ProjectType => "project_type",
        }
    }

    /// Parses the API spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "instance_type" => Some(Self::InstanceType),
            "group_type" => Some(Self::GroupType),
            "project_type" => Some(Self::ProjectType),
            _ => None,
        }
    }
}

/// Whether a runner takes jobs from any ref or only protected ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Jobs from any ref.
    #[default]
    NotProtected,
    /// Jobs from protected refs only.
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

    /// Parses the API spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "not_protected" => Some(Self::NotProtected),
            "ref_protected" => Some(Self::RefProtected),
            _ => None,
        }
    }
}

/// A CI job status as GitLab spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, not yet queued.
    Created,
    /// Waiting for a resource group.
    WaitingForResource,
    /// Preparing.
    Preparing,
    /// Queued for a runner.
    Pending,
    /// Picked up and running on a runner.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with a failure.
    Failed,
    /// Canceled.
    Canceled,
    /// Skipped.
    Skipped,
    /// Manual job, not started.
    Manual,
    /// Scheduled for later.
    Scheduled,
}

impl JobStatus {
    /// Every status, in API spelling order.
    pub const ALL: [JobStatus; 11] = [
        Self::Created,
        Self::WaitingForResource,
        Self::Preparing,
        Self::Pending,
        Self::Running,
        Self::Success,
        Self::Failed,
        Self::Canceled,
        Self::Skipped,
        Self::Manual,
        Self::Scheduled,
    ];

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::WaitingForResource => "waiting_for_resource",
            Self::Preparing => "preparing",
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Skipped => "skipped",
            Self::Manual => "manual",
            Self::Scheduled => "scheduled",
        }
    }

    /// Parses the API spelling.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// Whether the job has finished (it will not run again).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::Canceled | Self::Skipped
        )
    }
}

/// A project jobs belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Project id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Full path, e.g. `group/project`.
    pub path_with_namespace: String,
}

impl Project {
    /// The project the server invents for an id it has not been told about.
    pub fn placeholder(id: u64) -> Self {
        Self {
            id,
            name: format!("project-{id}"),
            path_with_namespace: format!("group/project-{id}"),
        }
    }
}

/// A runner as the server keeps it.
#[derive(Clone)]
pub(crate) struct Runner {
    pub id: u64,
    pub token: String,
    pub token_expires_at: Option<OffsetDateTime>,
    pub description: String,
    pub runner_type: RunnerType,
    pub group_id: Option<u64>,
    pub project_id: Option<u64>,
    pub paused: bool,
    pub tag_list: Vec<String>,
    pub run_untagged: bool,
    pub locked: bool,
    pub access_level: AccessLevel,
    pub maximum_timeout: Option<u64>,
    pub maintenance_note: Option<String>,
    pub created_at: OffsetDateTime,
    pub contacted_at: Option<OffsetDateTime>,
    pub status_override: Option<String>,
}

/// A job as the server keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: u64,
    pub runner_id: u64,
    pub project_id: u64,
    pub pipeline_id: u64,
    pub name: String,
    pub stage: String,
    pub git_ref: String,
    pub status: JobStatus,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

/// A runner manager (one per `system_id` that connected with the runner's token).
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    pub id: u64,
    pub runner_id: u64,
    pub system_id: String,
    pub status: String,
    pub job_execution_status: String,
    pub version: Option<String>,
    pub revision: Option<String>,
    pub platform: Option<String>,
    pub architecture: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: OffsetDateTime,
    pub contacted_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------------------------------------
// Test-surface requests and responses
// ---------------------------------------------------------------------------------------------

/// Creates a runner directly, optionally with a known token.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NewRunner {
    /// Runner id; the next free one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Authentication token (`glrt-…`); generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Runner type (instance by default).
    #[serde(default)]
    pub runner_type: RunnerType,
    /// Group of a group runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    /// Project of a project runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    /// Starts paused.
    #[serde(default)]
    pub paused: bool,
    /// Tags.
    #[serde(default)]
    pub tag_list: Vec<String>,
    /// Runs untagged jobs (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_untagged: Option<bool>,
    /// Locked to its projects.
    #[serde(default)]
    pub locked: bool,
    /// Access level.
    #[serde(default)]
    pub access_level: AccessLevel,
    /// Maximum job timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_timeout: Option<u64>,
    /// Forces the reported `status` (online, offline, stale, never_contacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Names of tokens that may manage this runner without being administrators.
    #[serde(default)]
    pub owners: Vec<String>,
}

impl fmt::Debug for NewRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRunner")
            .field("id", &self.id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("description", &self.description)
            .field("runner_type", &self.runner_type)
            .field("paused", &self.paused)
            .field("owners", &self.owners)
            .finish_non_exhaustive()
    }
}

/// A runner as the test surface reports it (including its token).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerRecord {
    /// Runner id.
    pub id: u64,
    /// Authentication token.
    pub token: String,
    /// Description.
    pub description: String,
    /// Runner type.
    pub runner_type: RunnerType,
    /// Paused flag.
    pub paused: bool,
    /// Tags.
    pub tag_list: Vec<String>,
    /// Runs untagged jobs.
    pub run_untagged: bool,
    /// Locked.
    pub locked: bool,
    /// Access level.
    pub access_level: AccessLevel,
    /// Maximum timeout in seconds.
    pub maximum_timeout: Option<u64>,
    /// Maintenance note.
    #[serde(default)]
    pub maintenance_note: Option<String>,
    /// When the token expires (GitLab's timestamp format), `None` when it does not.
    #[serde(default)]
    pub token_expires_at: Option<String>,
}

impl fmt::Debug for RunnerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerRecord")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("description", &self.description)
            .field("runner_type", &self.runner_type)
            .field("paused", &self.paused)
            .field("tag_list", &self.tag_list)
            .field("run_untagged", &self.run_untagged)
            .field("locked", &self.locked)
            .field("access_level", &self.access_level)
            .field("maximum_timeout", &self.maximum_timeout)
            .field("maintenance_note", &self.maintenance_note)
            .field("token_expires_at", &self.token_expires_at)
            .finish()
    }
}

/// Registers a runner manager (as a runner process contacting GitLab would).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewManager {
    /// The manager's system id, e.g. `r_0123456789ab` or `s_0123456789ab`.
    pub system_id: String,
    /// `online`, `offline`, `stale` or `never_contacted` (default `online`).
    #[serde(default = "default_manager_status")]
    pub status: String,
    /// `active` or `idle` (default `idle`).
    #[serde(default = "default_execution_status")]
    pub job_execution_status: String,
    /// Runner version the manager reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl NewManager {
    /// An online, idle manager with the given system id.
    pub fn online(system_id: impl Into<String>) -> Self {
        Self {
            system_id: system_id.into(),
            status: default_manager_status(),
            job_execution_status: default_execution_status(),
            version: None,
        }
    }
}

fn default_manager_status() -> String {
    "online".to_owned()
}

fn default_execution_status() -> String {
    "idle".to_owned()
}

/// Starts a job on a runner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewJob {
    /// Project the job belongs to (governs who can see it).
    pub project_id: u64,
    /// Job name.
    pub name: String,
    /// Stage (default `test`).
    #[serde(default = "default_stage")]
    pub stage: String,
    /// Git ref (default `main`).
    #[serde(default = "default_ref", rename = "ref")]
    pub git_ref: String,
    /// Initial status (default `running`).
    #[serde(default = "default_job_status")]
    pub status: JobStatus,
    /// Finishes the job on its own after this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_after_ms: Option<u64>,
    /// Status the job finishes with (default `success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_status: Option<JobStatus>,
}

impl NewJob {
    /// A running job in `project_id` named `name`.
    pub fn running(project_id: u64, name: impl Into<String>) -> Self {
        Self {
            project_id,
            name: name.into(),
            stage: default_stage(),
            git_ref: default_ref(),
            status: JobStatus::Running,
            finish_after_ms: None,
            finish_status: None,
        }
    }

    /// Finishes the job on its own after `millis` milliseconds.
    pub fn finishing_after(mut self, millis: u64) -> Self {
        self.finish_after_ms = Some(millis);
        self
    }
}

fn default_stage() -> String {
    "test".to_owned()
}

fn default_ref() -> String {
    "main".to_owned()
}

fn default_job_status() -> JobStatus {
    JobStatus::Running
}

/// A job as the test surface reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id.
    pub id: u64,
    /// Runner the job runs on.
    pub runner_id: u64,
    /// Project id.
    pub project_id: u64,
    /// Job name.
    pub name: String,
    /// Current status.
    pub status: JobStatus,
    /// Link to the job page.
    pub web_url: String,
}

/// Sets a job's status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetJobStatus {
    /// The new status.
    pub status: JobStatus,
}

/// Replaces the projects a token can see.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetProjects {
    /// Project ids visible to the token (Reporter or more).
    pub projects: Vec<u64>,
}

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status (and body, default `{"message":"<code> <reason>"}`).
    Status {
        /// HTTP status code.
        code: u16,
        /// Response body (JSON text) instead of the default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Answer 429 with a `Retry-After` header (seconds), as GitLab's rate limiter does.
    RateLimit {
        /// Seconds in `Retry-After`.
        retry_after_secs: u64,
    },
    /// Wait this long, then serve the request normally.
    Latency {
        /// Delay in milliseconds.
        millis: u64,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Serve the request (its effect happens), then close the connection without sending the
    /// answer: a response lost on the way back.
    DropResponse,
    /// Answer with a redirect (`code`: 301, 302, 303, 307 or 308) to `location`, as a proxy or
    /// a moved GitLab does; nothing is done. `location` is sent as given (absolute or relative).
    Redirect {
        /// HTTP status code (3xx).
        code: u16,
        /// The `Location` header.
        location: String,
    },
}

/// Injects a fault into `count` API requests matching `method` and `path`, after letting
/// `skip` matching requests through untouched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method to match (`None` matches any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path to match exactly, or a prefix when it ends with `*` (e.g. `/api/v4/runners/*`).
    pub path: String,
    /// How many matching requests get the fault (default 1).
    #[serde(default = "default_fault_count")]
    pub count: u32,
    /// Matching requests to let through before the fault starts (default 0).
    #[serde(default)]
    pub skip: u32,
    /// What happens to them.
    pub fault: Fault,
}

fn default_fault_count() -> u32 {
    1
}

impl FaultRule {
    /// A fault for the next `count` requests with `method` to `path`.
    pub fn new(method: &str, path: impl Into<String>, count: u32, fault: Fault) -> Self {
        Self {
            method: Some(method.to_ascii_uppercase()),
            path: path.into(),
            count,
            skip: 0,
            fault,
        }
    }

    /// Lets `skip` matching requests through before the fault starts.
    pub fn after(mut self, skip: u32) -> Self {
        self.skip = skip;
        self
    }

    /// Whether the rule applies to a request.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_matches = self
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method));
        let path_matches = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => self.path == path,
        };
        method_matches && path_matches && self.count > 0
    }
}

/// One API request as the request log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Status answered; `None` when the connection was dropped before handling (with
    /// `DropResponse` the status of the lost answer is kept).
    pub status: Option<u16>,
    /// Name of the access token used (never its value); `None` without one,
    /// `"<unknown>"` for a token the server does not know.
    pub token_name: Option<String>,
    /// Arrival time (RFC 3339, UTC).
    pub at: String,
    /// Milliseconds since the server started, at arrival.
    pub since_start_ms: u64,
    /// Milliseconds spent answering.
    pub duration_ms: u64,
    /// The injected fault, if one applied.
    pub fault: Option<Fault>,
    /// The request body as text, with the value of any `token` parameter replaced by
    /// `<redacted>`; `None` without a body.
    pub body: Option<String>,
}

/// Everything a server can be seeded with (also the `--seed-file` format, JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seed {
    /// Access tokens.
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    /// Projects (names used in job JSON).
    #[serde(default)]
    pub projects: Vec<Project>,
    /// Runners.
    #[serde(default)]
    pub runners: Vec<NewRunner>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rule_matches_exact_paths_and_prefixes() {
        let exact = FaultRule::new("put", "/api/v4/runners/7", 1, Fault::DropConnection);
        assert!(exact.matches("PUT", "/api/v4/runners/7"));
        assert!(!exact.matches("GET", "/api/v4/runners/7"));
        assert!(!exact.matches("PUT", "/api/v4/runners/77"));
        let prefix = FaultRule {
            method: None,
            path: "/api/v4/runners/*".into(),
            count: 2,
            skip: 0,
            fault: Fault::DropConnection,
        };
        assert!(prefix.matches("DELETE", "/api/v4/runners/77/jobs"));
        assert!(!prefix.matches("POST", "/api/v4/user/runners"));
    }

    #[test]
    fn exhausted_fault_rule_matches_nothing() {
        let mut rule = FaultRule::new("GET", "/x", 1, Fault::DropConnection);
        rule.count = 0;
        assert!(!rule.matches("GET", "/x"));
    }

    #[test]
    fn token_debug_output_hides_the_secret() {
        let token = TokenSpec::admin("root", "glpat-secret-value");
        let printed = format!("{token:?}");
        assert!(!printed.contains("glpat-secret-value"), "{printed}");
        assert!(printed.contains("root"));
    }

    #[test]
    fn job_status_round_trips_every_spelling() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::Value::String(status.as_str().into()));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }
}
