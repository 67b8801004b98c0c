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
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tfplugin::timeouts::{self, Operation, Timeouts};
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

/// A Secret's data: key → bytes.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// What makes one Secret resource different from another.
pub trait SecretKind: Send + Sync + 'static {
    /// The full type name, e.g. `"gitlabrunner_token_secret"`.
    const TYPE_NAME: &'static str;
    /// The schema (start from [`placement::secret_schema`]).
    const SCHEMA: fn() -> Schema;
    /// Checks across attributes (per-attribute checks are validators in the schema).
    const CHECK_CONFIG: fn(&Value) -> Diagnostics;

    /// `moved` from another provider's resource type into `target`; `None` when the kind takes
    /// no other type's state (the framework's "not supported" answer).
    fn move_state(
        _request: &tfplugin::MoveStateRequest,
        _target: &mut Document,
        _diagnostics: &mut Diagnostics,
    ) -> Option<OpResult> {
        None
    }

    /// Plans the kind's computed attributes (`id` is already planned).
    fn plan(
        ctx: &Context,
        request: PlanRequest,
        response: &mut PlanResponse,
    ) -> impl Future<Output = OpResult> + Send;

    /// The stored state: what [`SecretKind::desired`] returns beside the data.
    type State: SecretState;

    /// The data the configuration and plan describe (read the plan with
    /// [`WriteRequest::inputs`]), and the state to store once it is written (refreshed from the
    /// live Secret afterwards).
    fn desired(
        write: &WriteRequest<'_>,
    ) -> impl Future<Output = Result<(SecretData, Self::State), Diagnostics>> + Send;
}

/// What a create or update gives [`SecretKind::desired`].
pub struct WriteRequest<'a> {
    pub ctx: &'a Context,
    /// Holds the values of write-only attributes (the plan does not).
    pub config: &'a Document,
    pub plan: &'a Document,
    /// The operation's time limit and cancellation, for reads the kind needs.
    pub budget: &'a Budget,
}

impl WriteRequest<'_> {
    /// The plan as the kind's inputs model ([`known_inputs`]).
    pub fn inputs<T: DeserializeOwned>(&self) -> Result<T, Diagnostics> {
        known_inputs(self.plan)
    }
}

/// A Secret resource's own stored attributes. The lifecycle stores the ones every Secret
/// resource has ([`Placement`] and `id`, `uid`); the kind refreshes what it derives from the data.
pub trait SecretState: Serialize + DeserializeOwned + Send {
    /// Refreshes what the kind derives from the live Secret's data (digests, facts).
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>);
    /// After an import: the inputs the live Secret's data implies.
    fn adopt(&mut self, data: &BTreeMap<String, Vec<u8>>);
}

/// The attributes every Secret resource has and the lifecycle reads and stores itself: where
/// the Secret is, the metadata the configuration gives it, and the time limits.
#[derive(Serialize, Deserialize)]
struct Placement {
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

impl Placement {
    const ATTRIBUTES: [&str; 5] = ["namespace", "name", "labels", "annotations", "timeouts"];

    fn of(doc: &Document) -> Result<Placement, Diagnostics> {
        let attr = |name| AttributePath::new(name);
        Ok(Placement {
            namespace: doc.get_attr(&attr("namespace"))?,
            name: doc.get_attr(&attr("name"))?,
            labels: doc.get_attr(&attr("labels"))?,
            annotations: doc.get_attr(&attr("annotations"))?,
            timeouts: doc.get_attr(&attr(timeouts::BLOCK_NAME))?,
        })
    }
}

/// The plan's attributes as the kind's inputs model: computed attributes still unknown in the
/// plan (recomputed from the live Secret) and the lifecycle's own attributes are left out.
pub fn known_inputs<T: DeserializeOwned>(plan: &Document) -> Result<T, Diagnostics> {
    let mut value = plan.value().clone();
    if let Value::Object(attributes) = &mut value {
        attributes.retain(|name, v| {
            !matches!(v, Value::Unknown) && !Placement::ATTRIBUTES.contains(&name.as_str())
        });
    }
    Document::new(plan.value_type().clone(), value).get()
}

/// Plans the digests a Secret resource shows for the data it is going to write:
/// `digest_attribute` (one digest over the data, as `digest` computes it) and `key_digests` (one
/// per key). Both stay unknown while the data is not known yet (a value known only at apply).
pub fn plan_digests(
    response: &mut PlanResponse,
    digest_attribute: &str,
    wanted: Option<&SecretData>,
    digest: impl Fn(&SecretData) -> String,
) -> OpResult {
    let (one, per_key) = match wanted {
        Some(data) => (
            Value::from(digest(data)),
            Value::Map(
                super::digest::key_digests(data)
                    .into_iter()
                    .map(|(key, d)| (key, Value::from(d)))
                    .collect(),
            ),
        ),
        None => (Value::Unknown, Value::Unknown),
    };
    response
        .plan
        .set_value(&AttributePath::new(digest_attribute), one)?;
    response
        .plan
        .set_value(&AttributePath::new("key_digests"), per_key)?;
    Ok(())
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
        if let Some(id) = placement::planned_id(&response.plan) {
            response
                .plan
                .set_attr(&AttributePath::new("id"), &id.to_string())?;
        }
        K::plan(ctx, request, response).await
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let written = write::<K>(ctx, &request.config, &request.plan, Operation::Create).await?;
        written.store(&mut response.state)
    }

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult {
        let placement = Placement::of(&request.state)?;
        let mut state: K::State = request.state.get()?;
        let Some(live) = placement::read_secret(ctx, &request.state).await? else {
            response.state.remove();
            return Ok(());
        };
        if placement::take_import_flag(&request.private, &mut response.private)? {
            state.adopt(&live_data(&live));
        }
        store(&mut response.state, &placement, state, &live)
    }

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult {
        let written = write::<K>(ctx, &request.config, &request.plan, Operation::Update).await?;
        written.store(&mut response.state)
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

    async fn move_state(
        &self,
        request: tfplugin::MoveStateRequest,
        response: &mut tfplugin::MoveStateResponse,
    ) -> OpResult {
        K::move_state(&request, &mut response.state, &mut response.diagnostics).unwrap_or_else(
            || Err(tfplugin::resource::move_not_supported(K::TYPE_NAME, &request).into()),
        )
    }
}

/// A written Secret: the kind's state, where it is and the live object.
struct Written<S> {
    state: S,
    placement: Placement,
    live: Secret,
}

impl<S: SecretState> Written<S> {
    fn store(self, doc: &mut Document) -> OpResult {
        store(doc, &self.placement, self.state, &self.live)
    }
}

/// Creates (refusing to take over a Secret this provider did not create) or updates the Secret
/// the configuration describes, within the operation's time limit.
async fn write<K: SecretKind>(
    ctx: &Context,
    config: &Document,
    plan: &Document,
    operation: Operation,
) -> Result<Written<K::State>, Diagnostics> {
    let budget = &budget(plan, operation, ctx)?;
    let placement = Placement::of(plan)?;
    let (data, state) = K::desired(&WriteRequest {
        ctx,
        config,
        plan,
        budget,
    })
    .await?;
    let desired = DesiredSecret {
        namespace: placement.namespace.clone(),
        name: placement.name.clone(),
        labels: placement.labels.clone().unwrap_or_default(),
        annotations: placement.annotations.clone().unwrap_or_default(),
        data,
    };
    let provider = ctx.provider::<ProviderConfig>()?;
    let objects = Objects::<Secret>::new(client_for(&provider).await?, &desired.namespace);
    let object = desired.to_object();
    let live = if matches!(operation, Operation::Create) {
        objects
            .create(&desired.name, &object, K::TYPE_NAME, budget)
            .await?
    } else {
        objects.apply(&desired.name, &object, budget).await?
    };
    let live = objects
        .prune(&desired.name, live.clone(), &desired.pruning(&live), budget)
        .await?;
    Ok(Written {
        state,
        placement,
        live,
    })
}

/// Stores the kind's `state` refreshed from `live`, and the lifecycle's own attributes: the
/// placement, `id`, `uid`, and `labels`/`annotations` as they are live (an absent map stays
/// absent while the live one is empty).
fn store<S: SecretState>(
    doc: &mut Document,
    placement: &Placement,
    mut state: S,
    live: &Secret,
) -> OpResult {
    state.refresh(&live_data(live));
    doc.set(&state)?;
    let meta = LiveMetadata::of(
        live,
        placement.labels.as_ref(),
        placement.annotations.as_ref(),
    );
    let id = ObjectId::new(&placement.namespace, &placement.name).to_string();
    let attr = AttributePath::new;
    doc.set_attr(&attr("namespace"), &placement.namespace)?;
    doc.set_attr(&attr("name"), &placement.name)?;
    doc.set_attr(&attr(timeouts::BLOCK_NAME), &placement.timeouts)?;
    doc.set_attr(&attr("id"), &id)?;
    doc.set_attr(&attr("uid"), &meta.uid)?;
    doc.set_attr(&attr("labels"), &meta.labels)?;
    doc.set_attr(&attr("annotations"), &meta.annotations)?;
    Ok(())
}

/// Helpers for the kinds' configuration-check tests.
#[cfg(test)]
pub mod test_support {
    use tfplugin::{Diagnostics, Value};

    use super::SecretKind;

    /// A configuration of kind `K`: every attribute of its schema null except for `pairs`.
    pub fn config<K: SecretKind>(pairs: &[(&str, Value)]) -> Value {
        let schema = (K::SCHEMA)();
        let mut all: Vec<(&str, Value)> = schema
            .block
            .attributes
            .keys()
            .map(|n| (n.as_str(), Value::Null))
            .collect();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tfplugin::Type;

    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inputs {
        token: Option<String>,
    }

    #[test]
    fn the_inputs_leave_out_unknown_and_lifecycle_attributes() {
        let ty = Type::object([
            ("namespace", Type::String),
            ("name", Type::String),
            ("token", Type::String),
            ("digest", Type::String),
        ]);
        let plan = Document::new(
            Arc::new(ty),
            Value::object([
                ("namespace", Value::from("ns")),
                ("name", Value::from("s")),
                ("token", Value::from("t")),
                ("digest", Value::Unknown),
            ]),
        );
        let inputs: Inputs = known_inputs(&plan).expect("known inputs");
        assert_eq!(inputs.token.as_deref(), Some("t"));
        assert!(
            plan.get::<Inputs>().is_err(),
            "the whole plan is not the inputs"
        );
    }
}
