//! The lifecycle every Secret resource shares: plan the `id`, write (create or server-side
//! apply, then prune what the configuration dropped), refresh from the live Secret, adopt on the
//! first read after an import, delete, import by `namespace/name`.
//!
//! A Secret resource is a [`SecretKind`] (its schema, checks, planned attributes and the data it
//! wants) registered as [`SecretResource<Kind>`]; the kind's state is a [`SecretState`].

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    Diagnostics, Document, ImportRequest, ImportResponse, OpResult, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse, Resource, Schema, UpdateRequest, UpdateResponse, ValidateRequest,
    ValidateResponse, Value, async_trait,
};

use super::placement::{self, budget};
use super::secret_object::{DesiredSecret, LiveMetadata, live_data};
use crate::ProviderConfig;
use crate::kube::{Budget, ObjectId, Objects, client_for};

/// What makes one Secret resource different from another.
pub trait SecretKind: Send + Sync + 'static {
    /// The full type name, e.g. `"gitlabrunner_token_secret"`.
    const TYPE_NAME: &'static str;
    /// The stored state.
    type State: SecretState;

    /// The schema (start from [`placement::secret_schema`]).
    const SCHEMA: fn() -> Schema;
    /// Checks across attributes (per-attribute checks are validators in the schema).
    const CHECK_CONFIG: fn(&Value) -> Diagnostics;

    /// Plans the kind's computed attributes (`id` is already planned).
    fn plan(
        ctx: &Context,
        request: PlanRequest,
        response: &mut PlanResponse,
    ) -> impl Future<Output = OpResult> + Send;

    /// The Secret the configuration and plan describe, and the state to store once it is
    /// written (refreshed from the live Secret afterwards).
    fn desired(
        ctx: &Context,
        config: &Document,
        plan: &Document,
        budget: &Budget,
    ) -> impl Future<Output = Result<(DesiredSecret, Self::State), Diagnostics>> + Send;
}

/// A Secret resource's stored state. `id`, `uid`, `labels` and `annotations` are refreshed by
/// the lifecycle; the kind refreshes what it derives from the data.
pub trait SecretState: Serialize + DeserializeOwned + Send {
    /// Refreshes what the kind derives from the live Secret's data (digests, facts).
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>);
    /// After an import: the inputs the live Secret's data implies.
    fn adopt(&mut self, data: &BTreeMap<String, Vec<u8>>);
}

/// The Terraform resource for a [`SecretKind`].
pub struct SecretResource<K>(PhantomData<fn() -> K>);

impl<K> Default for SecretResource<K> {
    fn default() -> Self {
        SecretResource(PhantomData)
    }
}

#[async_trait]
impl<K: SecretKind> Resource for SecretResource<K> {
    fn type_name(&self) -> &'static str {
        K::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        (K::SCHEMA)()
    }

    async fn validate(
        &self,
        request: ValidateRequest,
        response: &mut ValidateResponse,
    ) -> OpResult {
        response
            .diagnostics
            .extend((K::CHECK_CONFIG)(request.config.value()));
        Ok(())
    }

    async fn modify_plan(
        &self,
        ctx: &Context,
        request: PlanRequest,
        response: &mut PlanResponse,
    ) -> OpResult {
        let config = request.config.value();
        if let (Some(ns), Some(name)) = (
            config.attr("namespace").and_then(Value::as_str),
            config.attr("name").and_then(Value::as_str),
        ) {
            response.plan.set_attr(
                &AttributePath::new("id"),
                &ObjectId::new(ns, name).to_string(),
            )?;
        }
        K::plan(ctx, request, response).await
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let budget = budget(&request.plan, Operation::Create, ctx)?;
        let (state, live) = write::<K>(ctx, &request.config, &request.plan, &budget, true).await?;
        store(&mut response.state, state, &live)
    }

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult {
        let mut state: K::State = request.state.get()?;
        let Some(live) = placement::read_secret(ctx, &request.state).await? else {
            response.state.remove();
            return Ok(());
        };
        if placement::take_import_flag(&request.private, &mut response.private)? {
            state.adopt(&live_data(&live));
        }
        store(&mut response.state, state, &live)
    }

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult {
        let budget = budget(&request.plan, Operation::Update, ctx)?;
        let (state, live) = write::<K>(ctx, &request.config, &request.plan, &budget, false).await?;
        store(&mut response.state, state, &live)
    }

    async fn delete(
        &self,
        ctx: &Context,
        request: DeleteRequest,
        _response: &mut DeleteResponse,
    ) -> OpResult {
        placement::delete_secret(ctx, &request.prior_state).await
    }

    async fn import(
        &self,
        _ctx: &Context,
        request: ImportRequest,
        response: &mut ImportResponse,
    ) -> OpResult {
        placement::import_secret(&request, response)
    }
}

/// Writes the Secret the configuration describes; returns the state to store and the live Secret.
/// `creating`: refuse to take over a Secret this provider did not create.
async fn write<K: SecretKind>(
    ctx: &Context,
    config: &Document,
    plan: &Document,
    budget: &Budget,
    creating: bool,
) -> Result<(K::State, Secret), Diagnostics> {
    let (desired, state) = K::desired(ctx, config, plan, budget).await?;
    let provider = ctx.provider::<ProviderConfig>()?;
    let objects = Objects::<Secret>::new(client_for(&provider).await?, &desired.namespace);
    let object = desired.to_object();
    let live = if creating {
        objects
            .create(&desired.name, &object, K::TYPE_NAME, budget)
            .await?
    } else {
        objects.apply(&desired.name, &object, budget).await?
    };
    let live = objects
        .prune(&desired.name, live.clone(), &desired.pruning(&live), budget)
        .await?;
    Ok((state, live))
}

/// Stores `state` refreshed from `live`: the kind's derived attributes, then `id`, `uid`,
/// `labels` and `annotations` (an absent map stays absent while the live one is empty).
fn store<S: SecretState>(doc: &mut Document, mut state: S, live: &Secret) -> OpResult {
    state.refresh(&live_data(live));
    doc.set(&state)?;
    let attr = AttributePath::new;
    let namespace: String = doc.get_attr(&attr("namespace"))?;
    let name: String = doc.get_attr(&attr("name"))?;
    let labels: Option<BTreeMap<String, String>> = doc.get_attr(&attr("labels"))?;
    let annotations: Option<BTreeMap<String, String>> = doc.get_attr(&attr("annotations"))?;
    let meta = LiveMetadata::of(live, labels.as_ref(), annotations.as_ref());
    doc.set_attr(&attr("id"), &ObjectId::new(namespace, name).to_string())?;
    doc.set_attr(&attr("uid"), &meta.uid)?;
    doc.set_attr(&attr("labels"), &meta.labels)?;
    doc.set_attr(&attr("annotations"), &meta.annotations)?;
    Ok(())
}

/// Helpers for the kinds' configuration-check tests.
#[cfg(test)]
pub mod test_support {
    use tfplugin::{Diagnostics, Value};

    /// A configuration object with `names` null except for `pairs`.
    pub fn config(names: &[&str], pairs: &[(&str, Value)]) -> Value {
        let mut all: Vec<(&str, Value)> = names.iter().map(|n| (*n, Value::Null)).collect();
        for (k, v) in pairs {
            all.retain(|(n, _)| n != k);
            all.push((k, v.clone()));
        }
        Value::object(all)
    }

    /// Each diagnostic's summary, attribute path and whether it is an error.
    pub fn summaries(d: &Diagnostics) -> Vec<(String, String, bool)> {
        d.iter()
            .map(|d| {
                (
                    d.summary.clone(),
                    d.attribute
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    d.is_error(),
                )
            })
            .collect()
    }
}
