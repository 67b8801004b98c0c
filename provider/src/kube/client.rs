//! One `kube::Client` per distinct connection (and tokio runtime), built on first use and
//! reused by every resource in this provider process.
//!
//! The client's buffer worker lives on the runtime that built it, so entries are keyed by the
//! runtime too: tests that run resources in several runtimes never get a client whose runtime
//! has shut down.

use std::sync::Mutex;

use kube_connection::KubernetesConnection;
use tokio::runtime::{Handle, Id as RuntimeId};

use super::error::KubeError;
use crate::ProviderConfig;

static CLIENTS: Mutex<Vec<(RuntimeId, KubernetesConnection, kube::Client)>> =
    Mutex::new(Vec::new());

/// The client for the provider's connection. Errors when the configuration is not fully known
/// yet (plan of a cluster created in the same apply) or does not resolve.
pub async fn client_for(config: &ProviderConfig) -> Result<kube::Client, KubeError> {
    if config.has_unknowns() {
        return Err(KubeError::ConnectionUnknown {
            attributes: config.unknown_attributes.join(", "),
        });
    }
    let runtime = Handle::try_current().ok().map(|h| h.id());
    if let Some(client) = runtime.and_then(|r| cached(r, &config.kubernetes)) {
        return Ok(client);
    }
    let env = |name: &str| std::env::var(name).ok();
    let resolved = config
        .kubernetes
        .resolve(&env)
        .map_err(|error| KubeError::Connection { error })?;
    let client = resolved
        .client()
        .await
        .map_err(|error| KubeError::Connection { error })?;
    if let (Some(runtime), Ok(mut clients)) = (runtime, CLIENTS.lock()) {
        clients.push((runtime, config.kubernetes.clone(), client.clone()));
    }
    Ok(client)
}

fn cached(runtime: RuntimeId, connection: &KubernetesConnection) -> Option<kube::Client> {
    let clients = CLIENTS.lock().ok()?;
    clients
        .iter()
        .find(|(r, c, _)| *r == runtime && c == connection)
        .map(|(_, _, client)| client.clone())
}
