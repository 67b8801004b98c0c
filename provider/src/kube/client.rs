//! One `kube::Client` per distinct connection (and tokio runtime), built on first use and
//! reused by every resource in this provider process. Concurrent first users (Terraform reads
//! 10 resources at once) wait for the one build instead of each building its own; a failed
//! build is not kept (the next caller tries again).

use kube_connection::KubernetesConnection;
use tokio::runtime::Handle;
use tokio::sync::OnceCell;

use super::error::KubeError;
use super::per_connection::PerConnection;
use crate::ProviderConfig;

static CLIENTS: PerConnection<OnceCell<kube::Client>> = PerConnection::new();

/// The client for the provider's connection. Errors when the configuration is not fully known
/// yet (plan of a cluster created in the same apply) or does not resolve.
pub async fn client_for(config: &ProviderConfig) -> Result<kube::Client, KubeError> {
    if config.has_unknowns() {
        return Err(KubeError::ConnectionUnknown {
            attributes: config.unknown_attributes.join(", "),
        });
    }
    // Outside a runtime there is no worker to keep: a client for this call only.
    if Handle::try_current().is_err() {
        return build(&config.kubernetes).await;
    }
    CLIENTS
        .get(&config.kubernetes)
        .get_or_try_init(|| build(&config.kubernetes))
        .await
        .cloned()
}

async fn build(connection: &KubernetesConnection) -> Result<kube::Client, KubeError> {
    let env = |name: &str| std::env::var(name).ok();
    let resolved = connection
        .resolve(&env)
        .map_err(|error| KubeError::Connection { error })?;
    resolved
        .client()
        .await
        .map_err(|error| KubeError::Connection { error })
}
