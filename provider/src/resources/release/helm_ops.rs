//! The helm processes apply and destroy run (read never runs one): `upgrade --install` with a
//! private values file and kubeconfig, `rollback` / `uninstall` for recovery and destroy, and
//! helm errors turned into diagnostics.

use std::path::PathBuf;
use std::time::Duration;

use helm_driver::{
    CancellationToken, HelmBinary, HelmError, HelmFailure, HelmOutput, HelmRunner,
    RepositoryCredentials, Rollback, RunOptions, Uninstall, UpgradeInstall, VERSION_TIMEOUT,
};
use kube_connection::ResolvedConnection;
use tfplugin::Diagnostic;

use crate::ProviderConfig;
use crate::kube::{CANCEL_GRACE, KubeError};

/// The helm to run (detected on first use, within the operation's deadline) and the connection
/// it talks to.
pub struct Helm {
    helm_path: Option<PathBuf>,
    runner: tokio::sync::OnceCell<HelmRunner>,
    pub connection: ResolvedConnection,
}

impl Helm {
    /// Resolves the provider's connection; helm (`helm_path` or `helm` on PATH) is detected by
    /// the first helm command, without blocking a runtime thread.
    pub fn from_config(config: &ProviderConfig) -> Result<Helm, Diagnostic> {
        let env = |name: &str| std::env::var(name).ok();
        let connection = config
            .kubernetes
            .resolve(&env)
            .map_err(|error| KubeError::Connection { error }.diagnostic())?;
        Ok(Helm {
            helm_path: config.helm_path.as_deref().map(PathBuf::from),
            runner: tokio::sync::OnceCell::new(),
            connection,
        })
    }

    /// The detected helm: `helm version` runs at most [`VERSION_TIMEOUT`], and never past the
    /// operation's deadline.
    pub async fn runner(&self, options: &RunOptions) -> Result<&HelmRunner, HelmError> {
        self.runner
            .get_or_try_init(|| async {
                let left = options
                    .deadline
                    .saturating_duration_since(tokio::time::Instant::now());
                let binary =
                    HelmBinary::detect_async(self.helm_path.as_deref(), left.min(VERSION_TIMEOUT))
                        .await?;
                Ok(HelmRunner::new(binary))
            })
            .await
    }

    /// `helm upgrade --install` with `values_json` in a private 0600 file (removed when this
    /// returns).
    pub async fn upgrade_install(
        &self,
        request: &UpgradeInstall,
        values_json: &str,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        self.runner(options)
            .await?
            .upgrade_install(&self.connection, request, values_json, options)
            .await
    }

    pub async fn rollback(
        &self,
        request: &Rollback,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        self.runner(options)
            .await?
            .rollback(&self.connection, request, options)
            .await
    }

    pub async fn uninstall(
        &self,
        request: &Uninstall,
        options: &RunOptions,
    ) -> Result<HelmOutput, HelmError> {
        self.runner(options)
            .await?
            .uninstall(&self.connection, request, options)
            .await
    }
}

/// Options for the helm processes of one operation: one deadline (`limit` from now) for all of
/// them, Terraform's cancellation (after the grace policy's `CANCEL_GRACE.helm`) and the secrets
/// to mask in anything helm prints.
pub fn run_options(
    limit: Duration,
    cancel: &CancellationToken,
    credentials: Option<&RepositoryCredentials>,
) -> RunOptions {
    let mut options = RunOptions::new(limit);
    options.cancel = cancel.clone();
    options.cancel_grace = CANCEL_GRACE.helm;
    if let Some(credentials) = credentials {
        options.secrets.push(credentials.password.clone());
    }
    options
}

/// `install` → `Install`, for diagnostic summaries.
fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The diagnostic for a failed helm command: what failed, helm's (redacted) words, and what to do.
pub fn helm_diagnostic(operation: &str, release: &str, error: &HelmError) -> Diagnostic {
    if matches!(
        error,
        HelmError::NotFound { .. }
            | HelmError::VersionCommand { .. }
            | HelmError::VersionTimedOut { .. }
            | HelmError::UnparsableVersion { .. }
            | HelmError::UnsupportedVersion { .. }
    ) {
        return Diagnostic::error("Helm Not Usable", format!("{error}."));
    }
    let advice = match error.failure() {
        Some(HelmFailure::OperationInProgress) => {
            " Another helm operation is recorded as in progress (a pending-* revision, e.g. helm was killed). Set recover_pending = true to roll it back, or finish it by hand."
        }
        Some(HelmFailure::ClusterUnreachable) => {
            " Check the provider's kubernetes block: helm could not reach the API server."
        }
        Some(HelmFailure::Timeout) => {
            " The release did not become ready within `timeout` seconds: check the manager pod (image pull, Secret names, resources), or raise `timeout`."
        }
        Some(HelmFailure::ApplyConflict) => {
            " Another field manager owns some fields (kubectl edit/apply); apply again to take them back."
        }
        Some(HelmFailure::ObjectOwnedElsewhere) => {
            " An object of the chart already exists and belongs to something else; delete it or choose another release name."
        }
        Some(HelmFailure::ChartNotFound) => {
            " Check `repository`, `chart` and `chart_version` (or the local chart path)."
        }
        Some(HelmFailure::Unauthorized) => {
            " The repository, registry or cluster refused the credentials: check repository_username and the password."
        }
        Some(HelmFailure::UntrustedCertificate) => {
            " The chart repository's or registry's certificate is not trusted: set repository_ca_certificate to the CA that signs it (PEM)."
        }
        Some(HelmFailure::PlainHttpServer) => {
            " The registry speaks plain HTTP: set repository_plain_http = true (or serve it over TLS)."
        }
        Some(HelmFailure::NameInUse) => {
            " The release exists outside Terraform: import it with terraform import (namespace/name)."
        }
        _ => "",
    };
    Diagnostic::error(
        format!("Helm {} Failed", title_case(operation)),
        format!("helm {operation} of release {release:?} failed: {error}.{advice}"),
    )
}
