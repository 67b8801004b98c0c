//! `gitlabrunner_token_secret`: the Secret named in the chart's `runners.secret`, holding the
//! runner token under both keys the chart projects.
//!
//! Drift without storing the token: `key_digests` (one sha256 per Secret key) and `token_digest`
//! are refreshed from the live Secret on read and computed from the configuration on plan, so a
//! changed, missing or added key shows in the plan by name — also for the write-only token,
//! which never reaches state.
//!
//! Layout, as for every Secret resource: `schema.rs` (attributes), `model.rs` (inputs, state,
//! refresh), this file (plan and the data to write); the lifecycle is
//! [`crate::resources::secret_resource`].

mod model;
mod moved;
mod schema;
mod token;

use tfplugin::{
    Context, Diagnostic, Diagnostics, OpResult, PlanRequest, PlanResponse, Schema, Value,
};

use super::digest::combined_digest;
use super::secret_resource::{SecretData, SecretKind, SecretResource, WriteRequest, plan_digests};
use model::{Inputs, State};

use token::Token;
pub use token::{CHART_KEYS, REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY};

pub const TYPE_NAME: &str = "gitlabrunner_token_secret";

/// The resource.
pub type TokenSecret = SecretResource<Kind>;

/// What this Secret resource writes and plans.
#[derive(Debug, Default)]
pub struct Kind;

impl SecretKind for Kind {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const SCHEMA: fn() -> Schema = schema::schema;
    const CHECK_CONFIG: fn(&Value) -> Diagnostics = token::check_config;

    /// `moved` from the hashicorp/kubernetes provider's `kubernetes_secret_v1` (`moved.rs`).
    fn move_state(
        request: &tfplugin::MoveStateRequest,
        target: &mut tfplugin::Document,
        diagnostics: &mut Diagnostics,
    ) -> Option<OpResult> {
        moved::is_kubernetes_secret(request)
            .then(|| moved::move_secret(request, target, diagnostics))
    }

    async fn plan(_ctx: &Context, request: PlanRequest, response: &mut PlanResponse) -> OpResult {
        let wanted = Token::from_config(request.config.value()).and_then(|t| t.secret_data());
        plan_digests(response, "token_digest", wanted.as_ref(), |data| {
            combined_digest(data, &CHART_KEYS)
        })
    }

    type State = State;

    async fn desired(write: &WriteRequest<'_>) -> Result<(SecretData, State), Diagnostics> {
        let inputs: Inputs = write.inputs()?;
        let data = Token::from_config(write.config.value())
            .and_then(|t| t.secret_data())
            .ok_or_else(|| {
                Diagnostic::error(
                    "Runner Token Not Known",
                    "The runner token is not known at apply time. Check that exactly one of runner_token, runner_token_wo or registration_token is set to a known value.",
                )
            })?;
        Ok((data, State::from_inputs(inputs)))
    }
}
