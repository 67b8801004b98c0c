//! The reads one refresh shares: one [`ReadCache`] per connection (and tokio runtime), living as
//! long as the provider process — i.e. one `terraform plan` — and emptied by every write.
//!
//! Only the refresh (`ReadResource`) reads through it; apply reads the cluster directly. Every
//! resource operation that writes ([`Objects`](super::Objects) calls, the release's
//! create/update/delete) calls [`invalidate_reads`] first and last, so no read after a write is
//! served from a listing made before it.

use std::sync::Arc;

use helm_driver::ReadCache;

use super::per_connection::PerConnection;
use crate::ProviderConfig;

static READS: PerConnection<ReadCache> = PerConnection::new();

/// The shared reads for the provider's connection.
pub fn reads_for(config: &ProviderConfig) -> Arc<ReadCache> {
    READS.get(&config.kubernetes)
}

/// Forgets every shared listing, of every connection: call it around anything that writes.
pub fn invalidate_reads() {
    READS.for_each(ReadCache::invalidate);
}
