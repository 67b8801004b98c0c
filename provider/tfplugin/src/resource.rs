//! The managed resource trait and its requests and responses.
//!
//! Each operation receives a request and a response that is already filled in (see each
//! response's doc), and returns `Ok(())` or the diagnostics that made it fail. Warnings go into
//! `response.diagnostics`. The server owns Terraform's rules around these calls: which operation
//! runs, defaults, unknown computed values, plan modifiers, write-only attributes and checks of
//! what the resource returns.

use async_trait::async_trait;

use crate::context::Context;
use crate::diagnostics::{Diagnostic, Diagnostics, OpResult};
use crate::document::Document;
use crate::path::AttributePath;
use crate::private_state::PrivateState;
use crate::schema::Schema;

/// `ValidateResourceConfig`: the configuration may contain unknown values.
#[derive(Debug)]
pub struct ValidateRequest {
    pub config: Document,
}

#[derive(Debug, Default)]
pub struct ValidateResponse {
    pub diagnostics: Diagnostics,
}

/// `PlanResourceChange` for a create or update (never for a destroy).
#[derive(Debug)]
pub struct PlanRequest {
    pub config: Document,
    /// Null when the resource is being created.
    pub prior_state: Document,
    pub prior_private: PrivateState,
}

impl PlanRequest {
    pub fn is_create(&self) -> bool {
        self.prior_state.is_null()
    }
}

/// `plan` starts as Terraform's proposed new state after the schema's defaults, unknown
/// computed attributes and plan modifiers were applied.
#[derive(Debug)]
pub struct PlanResponse {
    pub plan: Document,
    /// Attributes whose change replaces the resource (plan modifiers add theirs first).
    pub requires_replace: Vec<AttributePath>,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

/// `PlanResourceChange` for a destroy (the server advertises `plan_destroy`): lets a resource
/// warn in the plan about what its destroy will do. The planned state is always null.
#[derive(Debug)]
pub struct PlanDestroyRequest {
    pub prior_state: Document,
    pub prior_private: PrivateState,
}

#[derive(Debug, Default)]
pub struct PlanDestroyResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug)]
pub struct CreateRequest {
    /// Holds the values of write-only attributes (the plan does not).
    pub config: Document,
    pub plan: Document,
    pub private: PrivateState,
}

/// `state` starts null: set it (`resp.state.set(&model)`) once the object exists. On error,
/// a non-null state tells Terraform that something was created (it is then tainted).
#[derive(Debug)]
pub struct CreateResponse {
    pub state: Document,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

#[derive(Debug)]
pub struct ReadRequest {
    pub state: Document,
    pub private: PrivateState,
}

/// `state` starts as the current state; `state.remove()` says the object is gone.
#[derive(Debug)]
pub struct ReadResponse {
    pub state: Document,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

#[derive(Debug)]
pub struct UpdateRequest {
    pub config: Document,
    pub plan: Document,
    pub prior_state: Document,
    pub private: PrivateState,
}

/// `state` starts as the plan; replace the unknown values with the real ones.
#[derive(Debug)]
pub struct UpdateResponse {
    pub state: Document,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

#[derive(Debug)]
pub struct DeleteRequest {
    pub prior_state: Document,
    pub private: PrivateState,
}

/// On success the server answers a null state.
#[derive(Debug, Default)]
pub struct DeleteResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug)]
pub struct ImportRequest {
    /// The ID the user gave `terraform import` or an `import` block.
    pub id: String,
}

/// `state` starts as an object with every attribute null; set enough for `read` to find the
/// object (Terraform calls `read` next).
#[derive(Debug)]
pub struct ImportResponse {
    pub state: Document,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

/// `UpgradeResourceState` for state written with an older schema version.
#[derive(Debug)]
pub struct UpgradeStateRequest {
    pub version: i64,
    /// The stored attributes as JSON.
    pub raw_state: serde_json::Value,
}

/// `state` starts null; set it in the current schema's shape.
#[derive(Debug)]
pub struct UpgradeStateResponse {
    pub state: Document,
    pub diagnostics: Diagnostics,
}

/// `MoveResourceState` (a `moved` block from another resource type).
#[derive(Debug)]
pub struct MoveStateRequest {
    pub source_provider_address: String,
    pub source_type_name: String,
    pub source_schema_version: i64,
    pub source_state: serde_json::Value,
    pub source_private: Vec<u8>,
}

#[derive(Debug)]
pub struct MoveStateResponse {
    pub state: Document,
    pub private: PrivateState,
    pub diagnostics: Diagnostics,
}

/// A managed resource type.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The full type name, e.g. `"gitlabrunner_release"`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks beyond per-attribute validators (e.g. attributes that exclude each other).
    async fn validate(
        &self,
        _request: ValidateRequest,
        _response: &mut ValidateResponse,
    ) -> OpResult {
        Ok(())
    }

    /// Adjusts the plan (e.g. plans new digests, or requires replacement on a condition).
    async fn modify_plan(
        &self,
        _ctx: &Context,
        _request: PlanRequest,
        _response: &mut PlanResponse,
    ) -> OpResult {
        Ok(())
    }

    /// Adds warnings (or errors) to a destroy plan. Nothing to do unless overridden.
    async fn plan_destroy(
        &self,
        _ctx: &Context,
        _request: PlanDestroyRequest,
        _response: &mut PlanDestroyResponse,
    ) -> OpResult {
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult;

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult;

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult;

    /// Deleting an object that is already gone succeeds.
    async fn delete(
        &self,
        ctx: &Context,
        request: DeleteRequest,
        response: &mut DeleteResponse,
    ) -> OpResult;

    /// `terraform import`. Not supported unless overridden.
    async fn import(
        &self,
        _ctx: &Context,
        _request: ImportRequest,
        _response: &mut ImportResponse,
    ) -> OpResult {
        Err(Diagnostic::error(
            "Resource Import Not Implemented",
            format!("The resource type {} cannot be imported.", self.type_name()),
        )
        .into())
    }

    /// Upgrades state from an older schema version (state of the current version is handled by
    /// the server). Not supported unless overridden.
    async fn upgrade_state(
        &self,
        request: UpgradeStateRequest,
        _response: &mut UpgradeStateResponse,
    ) -> OpResult {
        Err(Diagnostic::error(
            "Unable to Upgrade Resource State",
            format!(
                "The resource type {} has no upgrade from schema version {}. Use a provider version that wrote this state, or remove the resource from state and import it.",
                self.type_name(),
                request.version
            ),
        )
        .into())
    }

    /// Moves state from another resource type. Not supported unless overridden.
    async fn move_state(
        &self,
        request: MoveStateRequest,
        _response: &mut MoveStateResponse,
    ) -> OpResult {
        Err(move_not_supported(self.type_name(), &request).into())
    }
}

/// The answer to a `moved` block from a resource type `type_name` cannot take state from.
pub fn move_not_supported(type_name: &str, request: &MoveStateRequest) -> Diagnostic {
    Diagnostic::error(
        "Unable to Move Resource State",
        format!(
            "The resource type {type_name} cannot take over state from {} (provider {}). Remove the `moved` block and import the object instead.",
            request.source_type_name, request.source_provider_address
        ),
    )
}
