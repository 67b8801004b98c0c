//! The in-memory state behind the server: tokens, projects, runners, managers, jobs,
//! scripted faults and the request log. One mutex, held only for short synchronous work,
//! so every request may run in parallel with any other.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use time::OffsetDateTime;

use crate::model::{
    AccessLevel, Fault, FaultRule, Job, JobStatus, LoggedRequest, Manager, NewJob, NewManager,
    NewRunner, Project, Runner, RunnerRecord, RunnerType, Seed, TokenSpec,
};
use crate::timefmt;

mod token_lifecycle;

/// First id handed out to runners created without an explicit id.
const FIRST_RUNNER_ID: u64 = 1001;
/// First job id.
const FIRST_JOB_ID: u64 = 5001;
/// First pipeline id.
const FIRST_PIPELINE_ID: u64 = 801;

/// Why a test-surface change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The runner does not exist.
    #[error("runner {0} does not exist")]
    UnknownRunner(u64),
    /// The job does not exist.
    #[error("job {0} does not exist")]
    UnknownJob(u64),
    /// No token has that name.
    #[error("no token is named {0:?}")]
    UnknownToken(String),
    /// The runner id is taken.
    #[error("runner id {0} is already in use")]
    RunnerIdTaken(u64),
    /// Another runner has that token.
    #[error("another runner already has that token")]
    RunnerTokenTaken,
}

/// Changes requested by `PUT /runners/:id`; `None` leaves a field alone.
#[derive(Debug, Default, Clone)]
pub(crate) struct RunnerUpdate {
    pub description: Option<String>,
    pub paused: Option<bool>,
    pub tag_list: Option<Vec<String>>,
    pub run_untagged: Option<bool>,
    pub locked: Option<bool>,
    pub access_level: Option<AccessLevel>,
    pub maximum_timeout: Option<u64>,
    pub maintenance_note: Option<String>,
}

/// A runner created through `POST /user/runners`.
#[derive(Debug, Clone)]
pub(crate) struct UserRunnerRequest {
    pub runner_type: RunnerType,
    pub group_id: Option<u64>,
    pub project_id: Option<u64>,
    pub update: RunnerUpdate,
}

#[derive(Default)]
struct Inner {
    tokens: Vec<TokenSpec>,
    projects: BTreeMap<u64, Project>,
    runners: BTreeMap<u64, Runner>,
    managers: BTreeMap<u64, Manager>,
    jobs: BTreeMap<u64, Job>,
    next_runner_id: u64,
    next_job_id: u64,
    next_manager_id: u64,
    next_pipeline_id: u64,
    faults: Vec<FaultRule>,
    log: Vec<LoggedRequest>,
    next_seq: u64,
    /// Bumped by every reset, so timers started before a reset do nothing after it.
    generation: u64,
    /// Token expiry and the server's clock (see `token_lifecycle.rs`).
    tokens_clock: token_lifecycle::TokenClock,
}

impl Inner {
    fn fresh(generation: u64) -> Self {
        Self {
            next_runner_id: FIRST_RUNNER_ID,
            next_job_id: FIRST_JOB_ID,
            next_manager_id: 1,
            next_pipeline_id: FIRST_PIPELINE_ID,
            next_seq: 1,
            generation,
            ..Self::default()
        }
    }

    fn project(&mut self, id: u64) -> Project {
        self.projects
            .entry(id)
            .or_insert_with(|| Project::placeholder(id))
            .clone()
    }

    fn insert_runner(&mut self, new: NewRunner) -> Result<Runner, StoreError> {
        let id = match new.id {
            Some(id) if self.runners.contains_key(&id) => {
                return Err(StoreError::RunnerIdTaken(id));
            }
            Some(id) => id,
            None => {
                while self.runners.contains_key(&self.next_runner_id) {
                    self.next_runner_id += 1;
                }
                self.next_runner_id
            }
        };
        self.next_runner_id = self.next_runner_id.max(id + 1);
        let token = new.token.unwrap_or_else(generate_runner_token);
        if self.runners.values().any(|runner| runner.token == token) {
            return Err(StoreError::RunnerTokenTaken);
        }
        let runner = Runner {
            id,
            token,
            token_expires_at: self.tokens_clock.new_token_expiry(),
            description: new.description,
            runner_type: new.runner_type,
            group_id: new.group_id,
            project_id: new.project_id,
            paused: new.paused,
            tag_list: new.tag_list,
            run_untagged: new.run_untagged.unwrap_or(true),
            locked: new.locked,
            access_level: new.access_level,
            maximum_timeout: new.maximum_timeout,
            maintenance_note: None,
            created_at: timefmt::now(),
            contacted_at: None,
            status_override: new.status,
        };
        for owner in &new.owners {
            match self.tokens.iter_mut().find(|token| &token.name == owner) {
                Some(token) => token.runners.push(id),
                None => return Err(StoreError::UnknownToken(owner.clone())),
            }
        }
        self.runners.insert(id, runner.clone());
        Ok(runner)
    }
}

/// Shared server state.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    seed: Seed,
    started: Instant,
}

impl Store {
    /// A store holding `seed` (tokens, projects, runners).
    pub fn new(seed: Seed) -> Result<Self, StoreError> {
        let store = Self {
            inner: Mutex::new(Inner::fresh(0)),
            seed,
            started: Instant::now(),
        };
        store.reset()?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets everything but the seed: runners, jobs, faults, the request log.
    pub fn reset(&self) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let generation = inner.generation + 1;
        *inner = Inner::fresh(generation);
        inner.tokens = self.seed.tokens.clone();
        for project in &self.seed.projects {
            inner.projects.insert(project.id, project.clone());
        }
        for runner in &self.seed.runners {
            inner.insert_runner(runner.clone())?;
        }
        Ok(())
    }

    /// Milliseconds since the server started.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The reset generation (see [`Store::finish_job_later`]).
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    // --- tokens -----------------------------------------------------------------------------

    /// The token with this secret value.
    pub fn token_by_value(&self, value: &str) -> Option<TokenSpec> {
        self.lock()
            .tokens
            .iter()
            .find(|token| token.token == value)
            .cloned()
    }

    /// Adds a token, replacing one with the same name.
    pub fn put_token(&self, spec: TokenSpec) {
        let mut inner = self.lock();
        inner.tokens.retain(|token| token.name != spec.name);
        inner.tokens.push(spec);
    }

    /// Replaces the projects a token can see.
    pub fn set_token_projects(&self, name: &str, projects: Vec<u64>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let token = inner
            .tokens
            .iter_mut()
            .find(|token| token.name == name)
            .ok_or_else(|| StoreError::UnknownToken(name.to_owned()))?;
        token.projects = projects;
        Ok(())
    }

    // --- projects ---------------------------------------------------------------------------

    /// Adds or replaces a project.
    pub fn put_project(&self, project: Project) {
        self.lock().projects.insert(project.id, project);
    }

    /// A project (a placeholder for one never described).
    pub fn project(&self, id: u64) -> Project {
        self.lock().project(id)
    }

    // --- runners ----------------------------------------------------------------------------

    /// Creates a runner from the test surface.
    pub fn create_runner(&self, new: NewRunner) -> Result<RunnerRecord, StoreError> {
        let runner = self.lock().insert_runner(new)?;
        Ok(record_of(&runner))
    }

    /// Creates a runner for `owner` (as `POST /user/runners` does) and returns it.
    pub fn create_user_runner(&self, owner: &str, request: UserRunnerRequest) -> Runner {
        let mut inner = self.lock();
        while inner.runners.contains_key(&inner.next_runner_id) {
            inner.next_runner_id += 1;
        }
        let id = inner.next_runner_id;
        inner.next_runner_id += 1;
        let update = request.update;
        let runner = Runner {
            id,
            token: generate_runner_token(),
            token_expires_at: inner.tokens_clock.new_token_expiry(),
            description: update.description.unwrap_or_default(),
            runner_type: request.runner_type,
            group_id: request.group_id,
            project_id: request.project_id,
            paused: update.paused.unwrap_or(false),
            tag_list: update.tag_list.unwrap_or_default(),
            run_untagged: update.run_untagged.unwrap_or(true),
            locked: update.locked.unwrap_or(false),
            access_level: update.access_level.unwrap_or_default(),
            maximum_timeout: update.maximum_timeout,
            maintenance_note: update.maintenance_note,
            created_at: timefmt::now(),
            contacted_at: None,
            status_override: None,
        };
        inner.runners.insert(id, runner.clone());
        if let Some(token) = inner.tokens.iter_mut().find(|token| token.name == owner) {
            token.runners.push(id);
        }
        runner
    }

    /// A runner by id.
    pub fn runner(&self, id: u64) -> Option<Runner> {
        self.lock().runners.get(&id).cloned()
    }

    /// The test-surface view of a runner.
    pub fn runner_record(&self, id: u64) -> Option<RunnerRecord> {
        self.runner(id).as_ref().map(record_of)
    }

    /// The runner authenticated by `token`; `None` for an unknown or expired token.
    pub fn runner_by_token(&self, token: &str) -> Option<Runner> {
        let inner = self.lock();
        inner
            .runners
            .values()
            .find(|runner| runner.token == token)
            .filter(|runner| !inner.tokens_clock.has_expired(runner))
            .cloned()
    }

    /// Applies an update; `None` when the runner does not exist.
    pub fn update_runner(&self, id: u64, update: RunnerUpdate) -> Option<Runner> {
        let mut inner = self.lock();
        let runner = inner.runners.get_mut(&id)?;
        if let Some(description) = update.description {
            runner.description = description;
        }
        if let Some(paused) = update.paused {
            runner.paused = paused;
        }
        if let Some(tag_list) = update.tag_list {
            runner.tag_list = tag_list;
        }
        if let Some(run_untagged) = update.run_untagged {
            runner.run_untagged = run_untagged;
        }
        if let Some(locked) = update.locked {
            runner.locked = locked;
        }
        if let Some(access_level) = update.access_level {
            runner.access_level = access_level;
        }
        if let Some(maximum_timeout) = update.maximum_timeout {
            runner.maximum_timeout = Some(maximum_timeout);
        }
        if let Some(note) = update.maintenance_note {
            runner.maintenance_note = Some(note);
        }
        Some(runner.clone())
    }

    /// Deletes a runner with its managers and jobs; `false` when it did not exist.
    pub fn delete_runner(&self, id: u64) -> bool {
        let mut inner = self.lock();
        if inner.runners.remove(&id).is_none() {
            return false;
        }
        inner.managers.retain(|_, manager| manager.runner_id != id);
        inner.jobs.retain(|_, job| job.runner_id != id);
        for token in &mut inner.tokens {
            token.runners.retain(|runner| *runner != id);
        }
        true
    }

    /// The status GitLab would report for a runner.
    pub fn runner_status(&self, runner: &Runner) -> String {
        if let Some(status) = &runner.status_override {
            return status.clone();
        }
        let inner = self.lock();
        let statuses: Vec<&str> = inner
            .managers
            .values()
            .filter(|manager| manager.runner_id == runner.id)
            .map(|manager| manager.status.as_str())
            .collect();
        if statuses.contains(&"online") {
            "online".to_owned()
        } else if statuses.is_empty() && runner.contacted_at.is_none() {
            "never_contacted".to_owned()
        } else {
            "offline".to_owned()
        }
    }

    // --- managers ---------------------------------------------------------------------------

    /// Registers a manager for a runner.
    pub fn add_manager(&self, runner_id: u64, new: NewManager) -> Result<Manager, StoreError> {
        let mut inner = self.lock();
        if !inner.runners.contains_key(&runner_id) {
            return Err(StoreError::UnknownRunner(runner_id));
        }
        let now = timefmt::now();
        let id = inner.next_manager_id;
        inner.next_manager_id += 1;
        let contacted_at = (new.status != "never_contacted").then_some(now);
        let manager = Manager {
            id,
            runner_id,
            system_id: new.system_id,
            status: new.status,
            job_execution_status: new.job_execution_status,
            version: new.version,
            revision: None,
            platform: Some("linux".to_owned()),
            architecture: Some("amd64".to_owned()),
            ip_address: Some("127.0.0.1".to_owned()),
            created_at: now,
            contacted_at,
        };
        inner.managers.insert(id, manager.clone());
        if let Some(runner) = inner.runners.get_mut(&runner_id) {
            runner.contacted_at = contacted_at.or(runner.contacted_at);
        }
        Ok(manager)
    }

    /// Records a contact from `system_id` (as `POST /runners/verify` with a system id does).
    pub fn touch_manager(&self, runner_id: u64, system_id: &str) {
        let existing = {
            let mut inner = self.lock();
            let now = timefmt::now();
            let found = inner
                .managers
                .values_mut()
                .find(|manager| manager.runner_id == runner_id && manager.system_id == system_id);
            match found {
                Some(manager) => {
                    manager.contacted_at = Some(now);
                    manager.status = "online".to_owned();
                    true
                }
                None => false,
            }
        };
        if !existing {
            // The runner exists: the caller authenticated with its token.
            let _ = self.add_manager(runner_id, NewManager::online(system_id));
        }
    }

    /// A runner's managers, oldest first.
    pub fn managers(&self, runner_id: u64) -> Vec<Manager> {
        self.lock()
            .managers
            .values()
            .filter(|manager| manager.runner_id == runner_id)
            .cloned()
            .collect()
    }

    // --- jobs -------------------------------------------------------------------------------

    /// Starts a job on a runner.
    pub fn start_job(&self, runner_id: u64, new: &NewJob) -> Result<(Job, Project), StoreError> {
        let mut inner = self.lock();
        if !inner.runners.contains_key(&runner_id) {
            return Err(StoreError::UnknownRunner(runner_id));
        }
        let project = inner.project(new.project_id);
        let now = timefmt::now();
        let id = inner.next_job_id;
        inner.next_job_id += 1;
        let pipeline_id = inner.next_pipeline_id;
        inner.next_pipeline_id += 1;
        let started = !matches!(
            new.status,
            JobStatus::Created
                | JobStatus::Pending
                | JobStatus::Manual
                | JobStatus::Scheduled
                | JobStatus::WaitingForResource
        );
        let job = Job {
            id,
            runner_id,
            project_id: new.project_id,
            pipeline_id,
            name: new.name.clone(),
            stage: new.stage.clone(),
            git_ref: new.git_ref.clone(),
            status: new.status,
            created_at: now,
            started_at: started.then_some(now),
            finished_at: new.status.is_finished().then_some(now),
        };
        inner.jobs.insert(id, job.clone());
        Ok((job, project))
    }

    /// Sets a job's status, stamping start and finish times as GitLab would.
    pub fn set_job_status(&self, job_id: u64, status: JobStatus) -> Result<Job, StoreError> {
        let mut inner = self.lock();
        let job = inner
            .jobs
            .get_mut(&job_id)
            .ok_or(StoreError::UnknownJob(job_id))?;
        apply_status(job, status, timefmt::now());
        Ok(job.clone())
    }

    /// Finishes a job if it still exists, is unfinished and no reset happened since `generation`.
    pub fn finish_job_if_current(&self, job_id: u64, generation: u64, status: JobStatus) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if let Some(job) = inner.jobs.get_mut(&job_id)
            && !job.status.is_finished()
        {
            apply_status(job, status, timefmt::now());
        }
    }

    /// A job with its project.
    pub fn job(&self, job_id: u64) -> Option<(Job, Project)> {
        let mut inner = self.lock();
        let job = inner.jobs.get(&job_id).cloned()?;
        let project = inner.project(job.project_id);
        Some((job, project))
    }

    /// A runner's jobs (optionally with one status), ascending by id, with their projects.
    pub fn runner_jobs(&self, runner_id: u64, status: Option<JobStatus>) -> Vec<(Job, Project)> {
        let mut inner = self.lock();
        let jobs: Vec<Job> = inner
            .jobs
            .values()
            .filter(|job| job.runner_id == runner_id)
            .filter(|job| status.is_none_or(|wanted| job.status == wanted))
            .cloned()
            .collect();
        jobs.into_iter()
            .map(|job| {
                let project = inner.project(job.project_id);
                (job, project)
            })
            .collect()
    }

    // --- faults -----------------------------------------------------------------------------

    /// Adds a fault rule (rules apply in the order added).
    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.push(rule);
    }

    /// Fault rules with requests left.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.lock().faults.clone()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Takes one use of the first matching rule that has no requests left to skip; matching
    /// rules still skipping count this request as one skipped.
    pub fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let mut fired: Option<(usize, Fault)> = None;
        for (index, rule) in inner.faults.iter_mut().enumerate() {
            if !rule.matches(method, path) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
            } else if fired.is_none() {
                rule.count -= 1;
                fired = Some((index, rule.fault.clone()));
            }
        }
        let (index, fault) = fired?;
        if inner.faults[index].count == 0 {
            inner.faults.remove(index);
        }
        Some(fault)
    }

    // --- request log ------------------------------------------------------------------------

    /// Appends an entry (its `seq` is assigned here) and returns the sequence number.
    pub fn log_request(&self, mut entry: LoggedRequest) -> u64 {
        let mut inner = self.lock();
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        let seq = entry.seq;
        inner.log.push(entry);
        seq
    }

    /// The request log, in arrival order.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        let mut log = self.lock().log.clone();
        log.sort_by_key(|entry| entry.seq);
        log
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.lock().log.clear();
    }
}

fn apply_status(job: &mut Job, status: JobStatus, now: OffsetDateTime) {
    job.status = status;
    if status == JobStatus::Running && job.started_at.is_none() {
        job.started_at = Some(now);
    }
    if status.is_finished() {
        job.finished_at = Some(now);
    } else {
        job.finished_at = None;
    }
}

fn record_of(runner: &Runner) -> RunnerRecord {
    RunnerRecord {
        id: runner.id,
        token: runner.token.clone(),
        description: runner.description.clone(),
        runner_type: runner.runner_type,
        paused: runner.paused,
        tag_list: runner.tag_list.clone(),
        run_untagged: runner.run_untagged,
        locked: runner.locked,
        access_level: runner.access_level,
        maximum_timeout: runner.maximum_timeout,
        maintenance_note: runner.maintenance_note.clone(),
        token_expires_at: runner.token_expires_at.map(timefmt::format),
    }
}

/// A new runner authentication token: `glrt-t1_` and 20 random letters and digits.
fn generate_runner_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..20)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect();
    format!("glrt-t1_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(Seed::default()).unwrap()
    }

    #[test]
    fn generated_tokens_are_glrt_tokens_and_differ() {
        let first = generate_runner_token();
        let second = generate_runner_token();
        assert!(first.starts_with("glrt-t1_"));
        assert_eq!(first.len(), "glrt-t1_".len() + 20);
        assert_ne!(first, second);
    }

    #[test]
    fn runner_ids_are_allocated_around_explicit_ones() {
        let store = store();
        let explicit = store
            .create_runner(NewRunner {
                id: Some(FIRST_RUNNER_ID),
                ..NewRunner::default()
            })
            .unwrap();
        let next = store.create_runner(NewRunner::default()).unwrap();
        assert_eq!(explicit.id, FIRST_RUNNER_ID);
        assert_eq!(next.id, FIRST_RUNNER_ID + 1);
        let taken = store.create_runner(NewRunner {
            id: Some(FIRST_RUNNER_ID),
            ..NewRunner::default()
        });
        assert_eq!(taken, Err(StoreError::RunnerIdTaken(FIRST_RUNNER_ID)));
    }

    #[test]
    fn finishing_a_job_stamps_finished_at_and_reset_cancels_timers() {
        let store = store();
        let runner = store.create_runner(NewRunner::default()).unwrap();
        let (job, _) = store
            .start_job(runner.id, &NewJob::running(1, "build"))
            .unwrap();
        assert!(job.started_at.is_some());
        assert!(job.finished_at.is_none());
        let generation = store.generation();
        store.finish_job_if_current(job.id, generation + 1, JobStatus::Success);
        assert_eq!(store.job(job.id).unwrap().0.status, JobStatus::Running);
        store.finish_job_if_current(job.id, generation, JobStatus::Failed);
        let (finished, _) = store.job(job.id).unwrap();
        assert_eq!(finished.status, JobStatus::Failed);
        assert!(finished.finished_at.is_some());
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let store = store();
        store.add_fault(FaultRule::new("GET", "/a", 2, Fault::DropConnection));
        store.add_fault(FaultRule::new("GET", "/a", 1, Fault::Latency { millis: 5 }));
        assert_eq!(store.take_fault("GET", "/a"), Some(Fault::DropConnection));
        assert_eq!(store.take_fault("POST", "/a"), None);
        assert_eq!(store.take_fault("GET", "/a"), Some(Fault::DropConnection));
        assert_eq!(
            store.take_fault("GET", "/a"),
            Some(Fault::Latency { millis: 5 })
        );
        assert_eq!(store.take_fault("GET", "/a"), None);
        assert!(store.faults().is_empty());
    }

    #[test]
    fn skipping_rules_let_requests_through_first() {
        let store = store();
        store.add_fault(FaultRule::new("GET", "/a", 1, Fault::DropConnection).after(2));
        assert_eq!(store.take_fault("GET", "/a"), None);
        assert_eq!(store.take_fault("GET", "/b"), None);
        assert_eq!(store.take_fault("GET", "/a"), None);
        assert_eq!(store.take_fault("GET", "/a"), Some(Fault::DropConnection));
        assert_eq!(store.take_fault("GET", "/a"), None);
    }

    #[test]
    fn deleting_a_runner_removes_its_jobs_managers_and_ownership() {
        let store = store();
        store.put_token(TokenSpec::user("dev", "t", &[]));
        let runner = store
            .create_runner(NewRunner {
                owners: vec!["dev".into()],
                ..NewRunner::default()
            })
            .unwrap();
        store
            .add_manager(runner.id, NewManager::online("s_1"))
            .unwrap();
        store
            .start_job(runner.id, &NewJob::running(3, "test"))
            .unwrap();
        assert!(
            store
                .token_by_value("t")
                .unwrap()
                .runners
                .contains(&runner.id)
        );
        assert!(store.delete_runner(runner.id));
        assert!(!store.delete_runner(runner.id));
        assert!(store.managers(runner.id).is_empty());
        assert!(store.runner_jobs(runner.id, None).is_empty());
        assert!(store.token_by_value("t").unwrap().runners.is_empty());
    }
}
