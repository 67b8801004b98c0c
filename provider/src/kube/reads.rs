//! The reads one refresh shares: one [`ReadCache`] per connection (and tokio runtime), living as
//! long as the provider process — i.e. one `terraform plan` — and emptied by every write.
//!
//! Only the refresh (`ReadResource`) reads through it; apply reads the cluster directly. Every
//! resource operation that writes ([`Objects`](super::Objects) calls, the release's
//! create/update/delete) calls [`invalidate_reads`] first and last, so no read after a write is
//! served from a listing made before it.

use std::sync::{Arc, Mutex, PoisonError};

use helm_driver::ReadCache;
use kube_connection::KubernetesConnection;
use tokio::runtime::{Handle, Id as RuntimeId};

use crate::ProviderConfig;

type Entry = (Option<RuntimeId>, KubernetesConnection, Arc<ReadCache>);

static READS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The shared reads for the provider's connection.
pub fn reads_for(config: &ProviderConfig) -> Arc<ReadCache> {
    let runtime = Handle::try_current().ok().map(|h| h.id());
    let mut entries = READS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, _, reads)) = entries
        .iter()
        .find(|(r, c, _)| *r == runtime && *c == config.kubernetes)
    {
        return reads.clone();
    }
    let reads = Arc::new(ReadCache::new());
    entries.push((runtime, config.kubernetes.clone(), reads.clone()));
    reads
}

/// Forgets every shared listing, of every connection: call it around anything that writes.
pub fn invalidate_reads() {
    for (_, _, reads) in READS.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        reads.invalidate();
    }
}
