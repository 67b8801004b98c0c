//! Provider-defined functions (`provider::gitlabrunner::<name>(...)`).

mod runner_config;

pub use runner_config::RunnerConfig;
