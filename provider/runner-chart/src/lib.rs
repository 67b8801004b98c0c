//! The `gitlab-runner` Helm chart's interface, as pure data: the runner `config.toml` key catalogue,
//! a validator for user-written TOML, a renderer for typed runner settings, and typed chart values.

pub mod catalogue;
pub mod credentials;
pub mod finding;
pub mod validate;

pub use finding::{ConfigPath, Finding, PathSegment, Position, Rule, Severity, has_errors};
pub use validate::validate_runner_config;
pub mod render;

pub use render::model::*;
pub use render::{RenderedConfig, render, render_runner_config};
pub mod values;

pub use values::{
    ChartValues, EnvVar, ImageRef, LogFormat, LogLevel, MergeError, Rbac, RunnersValues,
    ServiceAccount, TOKEN_DIGEST_ANNOTATION, TokenDigest, merge_user_values, scan_for_credentials,
};
