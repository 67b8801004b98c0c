//! Harness for the acceptance suite: locates the real client binaries (terraform/tofu, helm 3/4,
//! kubectl) and our provider build, starts the test world (or uses a real cluster), and runs
//! Terraform in throw-away working directories that load the provider through `dev_overrides`.

pub mod chart_repository;
pub mod docs;
pub mod oci;
pub mod skip;
pub mod terraform;
pub mod tools;
pub mod world;

pub use terraform::{PROVIDER_SOURCE, TerraformRun, TerraformWorkdir, unfolded};
pub use tools::Tools;
pub use world::{KubeWorld, ServiceAccountAccess};
