//! The crate's errors. Every string in them has passed through [`crate::redact`].

use std::path::PathBuf;

/// What a failed helm command most likely means, read from its stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelmFailure {
    /// `cannot re-use a name that is still in use` (helm 4: `cannot reuse a name`), or
    /// `release: already exists` (another install created the release Secret first).
    NameInUse,
    /// `another operation (install/upgrade/rollback) is in progress`: the newest revision is
    /// `pending-*`.
    OperationInProgress,
    /// The API server could not be reached (`kubernetes cluster unreachable`, helm 4
    /// `cluster reachability check failed`).
    ClusterUnreachable,
    /// `release: not found` / `Release not loaded`.
    ReleaseNotFound,
    /// `has no deployed releases`: an upgrade of a release whose every revision failed.
    NoDeployedReleases,
    /// `context deadline exceeded` / `timed out waiting for the condition`.
    Timeout,
    /// A server-side apply conflict with another field manager.
    ApplyConflict,
    /// An object exists that helm will not adopt (`invalid ownership metadata`).
    ObjectOwnedElsewhere,
    /// The chart or chart version could not be found or downloaded.
    ChartNotFound,
    /// The credentials were refused (`401`, `unauthorized`, `forbidden`).
    Unauthorized,
    /// The repository's or registry's TLS certificate is not trusted
    /// (`x509: certificate signed by unknown authority`, a name mismatch, an expired certificate).
    UntrustedCertificate,
    /// An HTTPS request reached a server that speaks plain HTTP
    /// (`http: server gave HTTP response to HTTPS client`).
    PlainHttpServer,
    /// Anything else.
    Other,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelmError {
    #[error("helm was not found{}: install helm 3.8+ or 4.x, or set helm_path", searched.as_ref().map(|p| format!(" at {}", p.display())).unwrap_or_else(|| " on PATH".to_string()))]
    NotFound { searched: Option<PathBuf> },

    #[error("could not run {path} version: {reason}")]
    VersionCommand { path: PathBuf, reason: String },

    #[error("{path} version did not finish within {seconds}s and was stopped")]
    VersionTimedOut { path: PathBuf, seconds: f64 },

    #[error("could not understand the version {output:?} printed by {path}")]
    UnparsableVersion { path: PathBuf, output: String },

    #[error("{path} is helm {found}, which is not supported: need helm 3.8 or newer (3.x or 4.x)")]
    UnsupportedVersion { path: PathBuf, found: String },

    #[error("invalid helm request: {0}")]
    InvalidRequest(String),

    #[error("could not prepare helm's private directory: {0}")]
    Sandbox(String),

    #[error("could not start {command}: {reason}")]
    Spawn { command: String, reason: String },

    #[error("`{command}` did not finish within {seconds}s and was stopped")]
    TimedOut { command: String, seconds: u64 },

    #[error("`{command}` was cancelled")]
    Cancelled { command: String },

    #[error("`{command}` failed (exit code {}): {stderr}", exit_code.map_or_else(|| "none: killed by a signal".to_string(), |c| c.to_string()))]
    CommandFailed {
        command: String,
        stderr: String,
        exit_code: Option<i32>,
        failure: HelmFailure,
    },
}

impl HelmError {
    /// The classification of a failed command; `None` for errors that are not a helm failure.
    pub fn failure(&self) -> Option<HelmFailure> {
        match self {
            Self::CommandFailed { failure, .. } => Some(*failure),
            _ => None,
        }
    }
}

/// Reads helm's stderr and says what kind of failure it reports.
pub fn classify_failure(stderr: &str) -> HelmFailure {
    let text = stderr.to_ascii_lowercase();
    let has = |needle: &str| text.contains(needle);
    if has("another operation (install/upgrade/rollback) is in progress") {
        HelmFailure::OperationInProgress
    } else if has("cannot re-use a name")
        || has("cannot reuse a name")
        || has("release: already exists")
    {
        HelmFailure::NameInUse
    } else if has("kubernetes cluster unreachable") || has("cluster reachability check failed") {
        HelmFailure::ClusterUnreachable
    } else if has("has no deployed releases") {
        HelmFailure::NoDeployedReleases
    } else if has("release: not found") || has("release not loaded") {
        HelmFailure::ReleaseNotFound
    } else if has("conflict occurred while applying") || has("apply failed with") {
        HelmFailure::ApplyConflict
    } else if has("invalid ownership metadata")
        || has("cannot be imported into the current release")
    {
        HelmFailure::ObjectOwnedElsewhere
    } else if has("context deadline exceeded") || has("timed out waiting for the condition") {
        HelmFailure::Timeout
    } else if has("server gave http response to https client") {
        HelmFailure::PlainHttpServer
    } else if has("x509: certificate") || has("tls: failed to verify certificate") {
        HelmFailure::UntrustedCertificate
    } else if has("401 unauthorized") || has("unauthorized") || has("403 forbidden") {
        HelmFailure::Unauthorized
    } else if has("failed to download")
        || has("no chart version found")
        || has("no chart name found")
        || (has("not found in") && has("repository"))
        || (has("path") && has("not found"))
    {
        HelmFailure::ChartNotFound
    } else {
        HelmFailure::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_messages_helm_3_and_4_print() {
        let cases = [
            (
                "Error: INSTALLATION FAILED: cannot re-use a name that is still in use",
                HelmFailure::NameInUse,
            ),
            (
                "Error: INSTALLATION FAILED: release name check failed: cannot reuse a name that is still in use",
                HelmFailure::NameInUse,
            ),
            (
                // The release Secret was created by someone else after helm's name check.
                "Error: INSTALLATION FAILED: release: already exists",
                HelmFailure::NameInUse,
            ),
            (
                "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
                HelmFailure::OperationInProgress,
            ),
            (
                "Error: kubernetes cluster unreachable: Get \"https://127.0.0.1:1/version\": dial tcp: connection refused",
                HelmFailure::ClusterUnreachable,
            ),
            (
                "Error: cluster reachability check failed: Get \"https://x/version\": EOF",
                HelmFailure::ClusterUnreachable,
            ),
            (
                "Error: uninstall: Release not loaded: nope: release: not found",
                HelmFailure::ReleaseNotFound,
            ),
            ("Error: release: not found", HelmFailure::ReleaseNotFound),
            (
                "Error: UPGRADE FAILED: \"r1\" has no deployed releases",
                HelmFailure::NoDeployedReleases,
            ),
            (
                "Error: INSTALLATION FAILED: context deadline exceeded",
                HelmFailure::Timeout,
            ),
            (
                "Error: UPGRADE FAILED: conflict occurred while applying object default/e7-cm /v1, Kind=ConfigMap: Apply failed with 1 conflict",
                HelmFailure::ApplyConflict,
            ),
            (
                "Error: Unable to continue with install: ConfigMap \"e1-cm\" in namespace \"default\" exists and cannot be imported into the current release: invalid ownership metadata",
                HelmFailure::ObjectOwnedElsewhere,
            ),
            (
                "Error: chart \"gitlab-runner\" version \"9.9.9\" not found in https://charts.gitlab.io repository",
                HelmFailure::ChartNotFound,
            ),
            (
                "Error: INSTALLATION FAILED: path \"./nochart\" not found",
                HelmFailure::ChartNotFound,
            ),
            // helm 4.1.4 against the OCI registry test server (recorded by release_oci.rs).
            (
                "Error: failed to perform \"FetchReference\" on source: Get \"https://127.0.0.1:44671/v2/charts/gitlab-runner/manifests/0.86.0-fixture\": tls: failed to verify certificate: x509: certificate signed by unknown authority",
                HelmFailure::UntrustedCertificate,
            ),
            (
                "Error: failed to perform \"FetchReference\" on source: Get \"https://127.0.0.1:38173/v2/charts/gitlab-runner/manifests/0.86.0-fixture\": http: server gave HTTP response to HTTPS client",
                HelmFailure::PlainHttpServer,
            ),
            (
                "Error: failed to fetch https://x/index.yaml : 401 Unauthorized",
                HelmFailure::Unauthorized,
            ),
            ("Error: something else entirely", HelmFailure::Other),
        ];
        for (stderr, expected) in cases {
            assert_eq!(classify_failure(stderr), expected, "{stderr}");
        }
    }
}
