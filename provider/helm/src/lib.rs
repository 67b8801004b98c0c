//! Drives the `helm` CLI (helm 3.8+ and 4.x) and reads helm's release records natively.
//!
//! - [`HelmBinary::detect`] finds helm and checks its version.
//! - [`args`] builds argv for `upgrade --install`, `uninstall`, `rollback` (pure, tested).
//! - [`HelmRunner`] runs them in a private environment with a timeout and cancellation, and
//!   turns failures into a redacted, classified [`HelmError::CommandFailed`].
//! - [`release`] decodes the newest `sh.helm.release.v1.*` Secret into a [`ReleaseRecord`]
//!   without spawning helm.
//! - [`drift`] compares the release manifest with the live objects, field by field.

pub mod args;
#[cfg(test)]
mod args_tests;
pub mod compare;
#[cfg(test)]
mod compare_tests;
pub mod drift;
mod error;
mod kinds;
pub mod manifest;
pub mod parent_death;
pub mod recovery;
mod redact;
pub mod release;
#[cfg(test)]
mod release_tests;
mod run;
mod sandbox;
mod version;

pub use args::{
    Cascade, ChartSource, ChartTransport, HelmInvocation, RepositoryCredentials, Rollback,
    Uninstall, UpgradeFiles, UpgradeInstall,
};
pub use drift::{
    Drift, DriftChange, DriftError, DriftReport, DriftValues, ReadCache, ReleaseInspection,
    check_manifest_drift, inspect_release, inspect_release_shared,
};
pub use error::{HelmError, HelmFailure, classify_failure};
pub use kinds::{ResolvedKind, known_kind, resolve_kind};
pub use manifest::{ManifestError, ManifestObject, parse_manifest};
pub use recovery::{Recovery, RecoveryError, mark_pending_release_failed};
pub use redact::{MASK, redact};
pub use release::{
    ReleaseHistory, ReleaseReadError, ReleaseRecord, ReleaseStatus, RevisionSummary,
    read_latest_release, read_release_history,
};
pub use run::{HelmOutput, HelmRunner, RunOptions};
pub use sandbox::{HelmSandbox, SANDBOX_PREFIX, StaleSandboxes, remove_stale_sandboxes};
pub use tokio_util::sync::CancellationToken;
pub use version::{HelmBinary, HelmGeneration, VERSION_TIMEOUT, generation_of, parse_version};
