//! The resource's attributes as one model (configuration, plan and state share it), and how
//! they turn into GitLab requests and back. Holds no token.

use std::collections::BTreeSet;

use gitlab_runner_api::{AccessLevel, CreateRunner, Runner, RunnerScope, RunnerSettings};
use serde::{Deserialize, Serialize};
use tfplugin::timeouts::Timeouts;
use tfplugin::{AttributePath, Diagnostic, Diagnostics, TfValue};

use super::schema::{GROUP_TYPE, INSTANCE_TYPE, PROJECT_TYPE};

/// `token_secret { namespace, name }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
}

/// `token_secret` as configuration and plan carry it (values may be unknown while planning).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretBlock {
    pub namespace: TfValue<String>,
    pub name: TfValue<String>,
}

/// Every attribute of the resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub id: TfValue<String>,
    pub runner_id: TfValue<i64>,
    pub runner_type: TfValue<String>,
    pub group_id: TfValue<i64>,
    pub project_id: TfValue<i64>,
    pub gitlab_url: TfValue<String>,
    pub description: TfValue<String>,
    pub tag_list: TfValue<BTreeSet<String>>,
    pub run_untagged: TfValue<bool>,
    pub locked: TfValue<bool>,
    pub paused: TfValue<bool>,
    pub access_level: TfValue<String>,
    pub maximum_timeout: TfValue<i64>,
    pub maintenance_note: TfValue<String>,
    pub token_secret_name: TfValue<String>,
    pub token_digest: TfValue<String>,
    pub token_expires_at: TfValue<String>,
    pub rotate_before: TfValue<String>,
    pub rotation_trigger: TfValue<String>,
    pub token_secret: TfValue<Vec<SecretBlock>>,
    pub timeouts: Option<Timeouts>,
}

impl Model {
    /// The Secret the token goes into (the block is required: exactly one).
    pub fn secret(&self) -> Result<SecretRef, Diagnostics> {
        self.token_secret
            .known()
            .and_then(|blocks| blocks.first())
            .and_then(|block| {
                Some(SecretRef {
                    namespace: block.namespace.known()?.clone(),
                    name: block.name.known()?.clone(),
                })
            })
            .ok_or_else(|| {
                Diagnostic::error(
                    "Token Secret Not Known",
                    "The token_secret block (namespace and name) must be known to write the runner's token.",
                )
                .at(AttributePath::new("token_secret"))
                .into()
            })
    }

    /// The runner id in state.
    pub fn runner_id(&self) -> Result<u64, Diagnostics> {
        self.runner_id
            .known()
            .and_then(|id| u64::try_from(*id).ok())
            .or_else(|| self.id.known().and_then(|id| id.parse().ok()))
            .ok_or_else(|| {
                Diagnostic::error(
                    "Runner Id Missing",
                    "The state holds no GitLab runner id. Remove the resource from state and import it as <runner id>/<namespace>/<secret name>.",
                )
                .into()
            })
    }

    /// The scope of a new runner; the checks in [`check_scope`] ran at validation.
    pub fn scope(&self) -> Result<RunnerScope, Diagnostics> {
        let id = |value: &TfValue<i64>, attr: &str| {
            value
                .known()
                .and_then(|id| u64::try_from(*id).ok())
                .ok_or_else(|| {
                    Diagnostics::from(
                        Diagnostic::error(
                            "Missing Runner Owner",
                            format!("runner_type {:?} needs {attr}.", self.runner_type.known()),
                        )
                        .at(AttributePath::new(attr)),
                    )
                })
        };
        match self.runner_type.known().map(String::as_str) {
            Some(GROUP_TYPE) => Ok(RunnerScope::Group(id(&self.group_id, "group_id")?)),
            Some(PROJECT_TYPE) => Ok(RunnerScope::Project(id(&self.project_id, "project_id")?)),
            _ => Ok(RunnerScope::Instance),
        }
    }

    /// The settings the configuration gives (unknown and null ones left to GitLab).
    pub fn settings(&self) -> RunnerSettings {
        RunnerSettings {
            description: self.description.known().cloned(),
            tag_list: self
                .tag_list
                .known()
                .map(|tags| tags.iter().cloned().collect()),
            run_untagged: self.run_untagged.known().copied(),
            locked: self.locked.known().copied(),
            paused: self.paused.known().copied(),
            access_level: self
                .access_level
                .known()
                .and_then(|level| match level.as_str() {
                    "ref_protected" => Some(AccessLevel::RefProtected),
                    "not_protected" => Some(AccessLevel::NotProtected),
                    _ => None,
                }),
            maximum_timeout: self
                .maximum_timeout
                .known()
                .and_then(|t| u64::try_from(*t).ok()),
            maintenance_note: self.maintenance_note.known().cloned(),
        }
    }

    /// `POST /user/runners`.
    pub fn create_request(&self) -> Result<CreateRunner, Diagnostics> {
        let settings = self.settings();
        Ok(CreateRunner {
            scope: self.scope()?,
            description: settings.description,
            tag_list: settings.tag_list,
            run_untagged: settings.run_untagged,
            locked: settings.locked,
            paused: settings.paused,
            access_level: settings.access_level,
            maximum_timeout: settings.maximum_timeout,
            maintenance_note: settings.maintenance_note,
        })
    }

    /// The settings as GitLab reports them (a field GitLab leaves out keeps its value).
    pub fn refresh_from(&mut self, runner: &Runner) {
        self.id = TfValue::Known(runner.id.to_string());
        self.runner_id = TfValue::Known(i64::try_from(runner.id).unwrap_or(i64::MAX));
        if let Some(kind) = &runner.runner_type {
            self.runner_type = TfValue::Known(kind.clone());
        }
        match self.runner_type.known().map(String::as_str) {
            Some(GROUP_TYPE) => {
                if let Some(group) = runner.group_ids.first() {
                    self.group_id = known_id(*group);
                }
            }
            Some(PROJECT_TYPE) => {
                if let Some(project) = runner.project_ids.first() {
                    self.project_id = known_id(*project);
                }
            }
            _ => {}
        }
        self.description = TfValue::Known(runner.description.clone().unwrap_or_default());
        self.tag_list = TfValue::Known(runner.tag_list.iter().cloned().collect());
        if let Some(v) = runner.run_untagged {
            self.run_untagged = TfValue::Known(v);
        }
        if let Some(v) = runner.locked {
            self.locked = TfValue::Known(v);
        }
        self.paused = TfValue::Known(runner.paused);
        if let Some(v) = &runner.access_level {
            self.access_level = TfValue::Known(v.clone());
        }
        self.maximum_timeout = match runner.maximum_timeout {
            Some(t) => TfValue::Known(i64::try_from(t).unwrap_or(i64::MAX)),
            None => TfValue::Null,
        };
        self.maintenance_note = TfValue::Known(runner.maintenance_note.clone().unwrap_or_default());
    }

    /// Computed values nothing set yet become null (state may hold no unknowns).
    pub fn settle_unknowns(&mut self) {
        fn settle<T>(value: &mut TfValue<T>) {
            if value.is_unknown() {
                *value = TfValue::Null;
            }
        }
        settle(&mut self.description);
        settle(&mut self.tag_list);
        settle(&mut self.run_untagged);
        settle(&mut self.locked);
        settle(&mut self.paused);
        settle(&mut self.access_level);
        settle(&mut self.maximum_timeout);
        settle(&mut self.maintenance_note);
        settle(&mut self.token_expires_at);
        settle(&mut self.token_digest);
    }
}

fn known_id(id: u64) -> TfValue<i64> {
    TfValue::Known(i64::try_from(id).unwrap_or(i64::MAX))
}

/// The plan-time rules of `runner_type`, `group_id` and `project_id`: a group runner needs
/// `group_id` and no `project_id`, a project runner the reverse, an instance runner neither.
pub fn check_scope(model: &Model) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let Some(kind) = model.runner_type.known() else {
        return diagnostics;
    };
    let mut need = |attr: &str, value: &TfValue<i64>, wanted: bool| {
        if wanted && value.is_null() {
            diagnostics.push(
                Diagnostic::error(
                    "Missing Runner Owner",
                    format!("runner_type = {kind:?} needs {attr}: the id of the {} the runner belongs to.", attr.trim_end_matches("_id")),
                )
                .at(AttributePath::new(attr)),
            );
        } else if !wanted && !value.is_null() {
            diagnostics.push(
                Diagnostic::error(
                    "Runner Owner Does Not Fit runner_type",
                    format!("{attr} is only for runner_type = {:?}; remove it or change runner_type (GitLab would ignore it).", if attr == "group_id" { GROUP_TYPE } else { PROJECT_TYPE }),
                )
                .at(AttributePath::new(attr)),
            );
        }
    };
    match kind.as_str() {
        GROUP_TYPE => {
            need("group_id", &model.group_id, true);
            need("project_id", &model.project_id, false);
        }
        PROJECT_TYPE => {
            need("project_id", &model.project_id, true);
            need("group_id", &model.group_id, false);
        }
        INSTANCE_TYPE => {
            need("group_id", &model.group_id, false);
            need("project_id", &model.project_id, false);
        }
        _ => {}
    }
    diagnostics
}
