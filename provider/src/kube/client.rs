//! One `kube::Client` per distinct connection (and tokio runtime), built on first use and
//! reused by every resource in this provider process.
//!
//! The client's buffer worker lives on the runtime that built it, so entries are keyed by the
//! runtime too: tests that run resources in several runtimes never get a client whose runtime
//! has shut down.

use std::sync::{Arc, Mutex, PoisonError};

use kube_connection::KubernetesConnection;
use tokio::runtime::{Handle, Id as RuntimeId};
use tokio::sync::OnceCell;

use super::error::KubeError;
use crate::ProviderConfig;

/// A client built once for its connection and runtime; concurrent first users (Terraform reads
/// 10 resources at once) wait for the one build instead of each building its own.
type SharedClient = Arc<OnceCell<kube::Client>>;

static CLIENTS: Mutex<Vec<(RuntimeId, KubernetesConnection, SharedClient)>> =
    Mutex::new(Vec::new());

/// The client for the provider's connection. Errors when the configuration is not fully known
/// yet (plan of a cluster created in the same apply) or does not resolve; a failed build is not
/// kept (the next caller tries again).
pub async fn client_for(config: &ProviderConfig) -> Result<kube::Client, KubeError> {
    if config.has_unknowns() {
        return Err(KubeError::ConnectionUnknown {
            attributes: config.unknown_attributes.join(", "),
        });
    }
    let Some(runtime) = Handle::try_current().ok().map(|h| h.id()) else {
        return build(&config.kubernetes).await;
    };
    shared(runtime, &config.kubernetes)
        .get_or_try_init(|| build(&config.kubernetes))
        .await
        .cloned()
}

/// The entry of `connection` on `runtime`, made (empty) when there is none.
fn shared(runtime: RuntimeId, connection: &KubernetesConnection) -> SharedClient {
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, _, client)) = clients
        .iter()
        .find(|(r, c, _)| *r == runtime && c == connection)
    {
        return Arc::clone(client);
    }
    let client = SharedClient::default();
    clients.push((runtime, connection.clone(), Arc::clone(&client)));
    client
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_s_users_on_one_runtime_share_one_entry_and_others_get_their_own() {
        let runtime = Handle::current().id();
        let here = KubernetesConnection {
            host: Some("https://shared.example:6443".into()),
            ..KubernetesConnection::default()
        };
        let elsewhere = KubernetesConnection {
            host: Some("https://other.example:6443".into()),
            ..KubernetesConnection::default()
        };
        let first = shared(runtime, &here);
        assert!(Arc::ptr_eq(&first, &shared(runtime, &here)));
        assert!(!Arc::ptr_eq(&first, &shared(runtime, &elsewhere)));
    }
}
