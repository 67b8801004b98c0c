//! One `kube::Client` per distinct connection, built on first use and reused by every
//! resource in this provider process.

use std::sync::Mutex;

use kube_connection::KubernetesConnection;

use super::error::KubeError;
use crate::ProviderConfig;

static CLIENTS: Mutex<Vec<(KubernetesConnection, kube::Client)>> = Mutex::new(Vec::new());

/// The client for the provider's connection. Errors when the configuration is not fully known
/// yet (plan of a cluster created in the same apply) or does not resolve.
pub async fn client_for(config: &ProviderConfig) -> Result<kube::Client, KubeError> {
    if config.has_unknowns() {
        return Err(KubeError::ConnectionUnknown {
            attributes: config.unknown_attributes.join(", "),
        });
    }
    if let Some(client) = cached(&config.kubernetes) {
        return Ok(client);
    }
    let env = |name: &str| std::env::var(name).ok();
    let resolved = config
        .kubernetes
        .resolve(&env)
        .map_err(|source| KubeError::Connection { source })?;
    let client = resolved
        .client()
        .await
        .map_err(|source| KubeError::Connection { source })?;
    if let Ok(mut clients) = CLIENTS.lock() {
        clients.push((config.kubernetes.clone(), client.clone()));
    }
    Ok(client)
}

fn cached(connection: &KubernetesConnection) -> Option<kube::Client> {
    let clients = CLIENTS.lock().ok()?;
    clients
        .iter()
        .find(|(c, _)| c == connection)
        .map(|(_, client)| client.clone())
}
