//! `gitlabrunner_cache_secret`: the Secret named in the chart's `runners.cache.secretName`,
//! holding the cache backend's credentials under the key names chart 0.86.0 reads (see
//! [`credentials::CREDENTIALS`]).
//!
//! The credentials are write-only attributes: Terraform sends them during plan and apply and
//! never stores them. Drift without storing them: `key_digests` (one sha256 per key) and
//! `credentials_digest` are computed from the configuration on plan and refreshed from the live
//! Secret on read, so a key changed, deleted or added by hand shows in the plan by name and is
//! repaired on apply.
//!
//! Layout, as for every Secret resource: `schema.rs`, `model.rs`, `credentials.rs` (keys and
//! checks), this file (plan and the data to write); the lifecycle is
//! [`crate::resources::secret_resource`].

pub mod credentials;
mod model;
mod schema;

use tfplugin::{
    Context, Diagnostic, Diagnostics, OpResult, PlanRequest, PlanResponse, Schema, Value,
};

use super::secret_resource::{SecretData, SecretKind, SecretResource, WriteRequest, plan_digests};
use model::{Inputs, State, credentials_digest};

pub const TYPE_NAME: &str = "gitlabrunner_cache_secret";

/// The resource.
pub type CacheSecret = SecretResource<Kind>;

/// What this Secret resource writes and plans.
#[derive(Debug, Default)]
pub struct Kind;

impl SecretKind for Kind {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const SCHEMA: fn() -> Schema = schema::schema;
    const CHECK_CONFIG: fn(&Value) -> Diagnostics = credentials::check_config;

    async fn plan(_ctx: &Context, request: PlanRequest, response: &mut PlanResponse) -> OpResult {
        let wanted = credentials::secret_data(request.config.value());
        plan_digests(
            response,
            "credentials_digest",
            wanted.as_ref(),
            credentials_digest,
        )
    }

    type State = State;

    async fn desired(write: &WriteRequest<'_>) -> Result<(SecretData, State), Diagnostics> {
        let inputs: Inputs = write.inputs()?;
        let data = credentials::secret_data(write.config.value()).ok_or_else(|| {
            Diagnostic::error(
                "Cache Credentials Not Known",
                "The cache credentials are not known at apply time. Check that backend and its write-only credentials are set to known values.",
            )
        })?;
        Ok((data, State::from_inputs(inputs)))
    }
}
