//! Harness for the acceptance suite: locates the real client binaries (terraform/tofu, helm 3/4,
//! kubectl) and our provider build, and runs Terraform in throw-away working directories that load
//! the provider through a `dev_overrides` CLI configuration.

pub mod tools;
pub mod terraform;

pub use terraform::{TerraformRun, TerraformWorkdir};
pub use tools::Tools;
