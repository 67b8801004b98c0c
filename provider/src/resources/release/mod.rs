//! `gitlabrunner_release`: the gitlab-runner chart installed with the real helm CLI from typed
//! HCL (docs/design/002-release-schema.md), read back natively with drift detection
//! (docs/design/001-resources.md).
//!
//! - [`schema`], [`model`]: the HCL.
//! - [`desired`]: configuration → chart values, runner TOML and digest, with diagnostics at
//!   attribute paths (used by validate, plan and apply).
//! - [`mapping`]: the model → chart values mapping (pure).
//! - [`validators`]: named validators of attributes (`token_digest`, `affinity`).
//! - [`source`]: where the chart comes from and how helm reaches it (TLS, plain HTTP,
//!   credentials), checked at plan time.
//! - [`plan`]: planned digests, drift repair and unknown results.
//! - [`apply`]: `helm upgrade --install`, failed and pending releases.
//! - [`live`]: the native read (no helm process) and drift lines.
//! - [`teardown`]: destroy — `uninstall` after a slot for the drain.
//! - [`drain`]: the release's side of `crate::drain` (target, settings, destroy and
//!   `drain_on_update` around an upgrade, diagnostics of the drain's results).
//! - [`state`]: the computed results as one typed value, written in one place.
//! - [`record`]: the settings record that makes `terraform import` exact.

mod adopt;
mod apply;
pub mod desired;
#[cfg(test)]
mod desired_tests;
mod digest;
mod drain;
mod gitlab_host;
mod gitlab_state;
mod helm_ops;
mod live;
mod mapping;
pub mod model;
pub mod moved;
pub mod names;
mod plan;
#[cfg(test)]
mod read_tests;
mod record;
mod rollout;
pub mod runner;
pub mod schema;
pub mod source;
mod state;
mod teardown;
mod validators;
mod verify;

use std::time::Duration;

use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    Diagnostic, Diagnostics, ImportRequest, ImportResponse, MoveStateRequest, MoveStateResponse,
    OpResult, PlanDestroyRequest, PlanDestroyResponse, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Resource, Schema, UpdateRequest, UpdateResponse, ValidateRequest,
    ValidateResponse, async_trait,
};

use crate::ProviderConfig;
use crate::kube::invalidate_reads;
use model::ReleaseModel;

pub use digest::values_digest;

/// The resource type name.
pub const TYPE_NAME: &str = "gitlabrunner_release";

const DEFAULT_CREATE: Duration = Duration::from_secs(10 * 60);
const DEFAULT_UPDATE: Duration = Duration::from_secs(10 * 60);
/// A refresh retries transient Kubernetes API failures this long before it reports them.
const DEFAULT_READ: Duration = Duration::from_secs(10);
const DEFAULT_DELETE: Duration = Duration::from_secs(10 * 60);

/// The `gitlabrunner_release` resource.
#[derive(Debug, Default, Clone, Copy)]
pub struct Release;

/// The operation's time limit from the `timeouts` block.
fn limit(
    model: &ReleaseModel,
    operation: Operation,
    default: Duration,
) -> Result<Duration, Diagnostic> {
    model
        .timeouts
        .clone()
        .unwrap_or_default()
        .get(operation, default)
}

fn provider_config(ctx: &Context) -> Result<std::sync::Arc<ProviderConfig>, Diagnostics> {
    ctx.provider::<ProviderConfig>().map_err(Diagnostics::from)
}

async fn kube_client(config: &ProviderConfig) -> Result<kube::Client, Diagnostics> {
    crate::kube::client_for(config)
        .await
        .map_err(|error| Diagnostics::from(error.diagnostic()))
}

#[async_trait]
impl Resource for Release {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    async fn validate(
        &self,
        request: ValidateRequest,
        response: &mut ValidateResponse,
    ) -> OpResult {
        plan::validate(&request.config, &mut response.diagnostics);
        Ok(())
    }

    async fn modify_plan(
        &self,
        ctx: &Context,
        request: PlanRequest,
        response: &mut PlanResponse,
    ) -> OpResult {
        plan::modify_plan(&request, response)?;
        gitlab_host::check_plan(
            ctx,
            &request.prior_state,
            &response.plan,
            &mut response.diagnostics,
        );
        Ok(())
    }

    /// A destroy plan says when the drain will have no GitLab access (job pods alone decide),
    /// and refuses a GitLab `base_url` on another host than the release's `gitlab_url`.
    async fn plan_destroy(
        &self,
        ctx: &Context,
        request: PlanDestroyRequest,
        response: &mut PlanDestroyResponse,
    ) -> OpResult {
        let diagnostics = gitlab_host::destroy_plan_diagnostics(ctx, &request.prior_state);
        response.diagnostics.extend(diagnostics);
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let config = provider_config(ctx)?;
        invalidate_reads();
        let result = apply::create(ctx, &config, request, response).await;
        invalidate_reads();
        result
    }

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult {
        let config = provider_config(ctx)?;
        apply::read(ctx, &config, request, response).await
    }

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult {
        let config = provider_config(ctx)?;
        invalidate_reads();
        let result = apply::update(ctx, &config, request, response).await;
        invalidate_reads();
        result
    }

    async fn delete(
        &self,
        ctx: &Context,
        request: DeleteRequest,
        response: &mut DeleteResponse,
    ) -> OpResult {
        let config = provider_config(ctx)?;
        let model: ReleaseModel = request.prior_state.get()?;
        let timeout = limit(&model, Operation::Delete, DEFAULT_DELETE)?;
        invalidate_reads();
        let result =
            teardown::destroy(ctx, &config, &model, timeout, &mut response.diagnostics).await;
        invalidate_reads();
        result
    }

    async fn import(
        &self,
        _ctx: &Context,
        request: ImportRequest,
        response: &mut ImportResponse,
    ) -> OpResult {
        let (namespace, name) = names::parse_import_id(&request.id)
            .map_err(|detail| Diagnostics::from(Diagnostic::error("Invalid Import ID", detail)))?;
        let state = &mut response.state;
        state.set_attr(&AttributePath::new("id"), &format!("{namespace}/{name}"))?;
        state.set_attr(&AttributePath::new("namespace"), &namespace)?;
        state.set_attr(&AttributePath::new("name"), &name)?;
        // Attributes with schema defaults start at their defaults (read, next, fills in the
        // rest: from the settings record, or from the values of a release installed elsewhere).
        adopt::set_schema_defaults(state)?;
        Ok(())
    }

    /// `moved` from the hashicorp/helm provider's `helm_release` (`moved.rs`).
    async fn move_state(
        &self,
        request: MoveStateRequest,
        response: &mut MoveStateResponse,
    ) -> OpResult {
        if !moved::is_helm_release(&request) {
            return Err(tfplugin::resource::move_not_supported(TYPE_NAME, &request).into());
        }
        moved::move_helm_release(&request, &mut response.state, &mut response.diagnostics)
    }
}
