//! Kubernetes objects the way every resource of this provider handles them.
//!
//! - [`client_for`]: one cached `kube::Client` per provider connection.
//! - [`Objects`]: get / server-side apply / prune / delete of namespaced objects, each call
//!   retried inside a [`Budget`] (the operation's `timeouts` value and Terraform's cancellation).
//! - [`ownership`]: the managed-by label (named in `identity.rs`), and the check that refuses to
//!   adopt an object this provider did not create (the error names `terraform import`).
//! - [`KubeError`]: every failure, turned into a diagnostic in exactly one place
//!   ([`KubeError::diagnostic`]) with a Title Case summary and a next step. No secret value ever
//!   reaches a message.
//! - [`ObjectId`]: `namespace/name` identifiers and the DNS-1123 checks for them.
//! - [`reads_for`]: the listings one refresh shares (one LIST per kind and namespace), emptied by
//!   every write ([`invalidate_reads`]).
//! - [`rollout`]: watches a release's rollout for causes waiting will not fix (the release's
//!   fail-fast while helm waits).

mod client;
mod error;
mod identity;
mod object_id;
mod objects;
pub mod ownership;
mod per_connection;
mod reads;
mod request;
mod retry;
pub mod rollout;
#[cfg(test)]
pub mod test_cluster;

pub use client::client_for;
pub use error::KubeError;
pub use identity::{FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
pub use object_id::{
    ObjectId, dns1123_label_validator, dns1123_subdomain_validator, is_dns1123_label,
    is_dns1123_subdomain,
};
pub use objects::{Objects, Pruning};
pub use reads::{invalidate_reads, reads_for};
pub use request::{Action, Verb};
pub use retry::{Budget, CANCEL_GRACE, CancelGrace, classify};
/// The token [`Budget::with_token`] takes (Terraform's `StopProvider` cancels it).
pub use tfplugin::CancellationToken;
