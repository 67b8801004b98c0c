//! The `gitlab-runner` Helm chart's interface, as pure data (no I/O, no Terraform types):
//!
//! - [`catalogue`]: the runner's `config.toml` keys per section, generated from
//!   `data/runner-config-keys.tsv` (runner 18.9);
//! - [`validate_runner_config`]: checks user-written `runners.config` TOML and returns [`Finding`]s with
//!   TOML paths and line/column positions — never secret values;
//! - [`render()`] / [`render_runner_config`]: typed runner settings ([`RunnerConfigInput`]) to
//!   deterministic TOML;
//! - [`ChartValues`]: typed chart values to the JSON tree Helm reads, with [`merge_user_values`] for the
//!   YAML escape hatch and [`scan_for_credentials`] for guard-rail warnings.
//!
//! See README.md beside this crate for what each check does and what is left out.

pub mod catalogue;
pub mod credentials;
pub mod finding;
pub mod render;
pub mod validate;
pub mod values;

pub use finding::{ConfigPath, Finding, PathSegment, Position, Rule, Severity, has_errors};
pub use render::model::*;
pub use render::{RenderedConfig, render, render_runner_config};
pub use validate::validate_runner_config;
pub use values::{
    ChartValues, EnvVar, ImageRef, LogFormat, LogLevel, MergeError, Rbac, RunnersValues,
    ServiceAccount, TOKEN_DIGEST_ANNOTATION, TokenDigest, merge_user_values, scan_for_credentials,
};
