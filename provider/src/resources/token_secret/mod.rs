//! `gitlabrunner_token_secret`: the Secret named in the chart's `runners.secret`, holding the
//! runner token under both keys the chart projects.
//!
//! Drift without storing the token: `key_digests` (one sha256 per Secret key) and `token_digest`
//! are refreshed from the live Secret on read and computed from the configuration on plan, so a
//! changed, missing or added key shows in the plan by name — also for the write-only token,
//! which never reaches state.

mod token;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tfplugin::timeouts::{Operation, Timeouts};
use tfplugin::{
    Attribute, AttributePath, Context, CreateRequest, CreateResponse, DeleteRequest,
    DeleteResponse, Document, ImportRequest, ImportResponse, OpResult, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse, Resource, Schema, TfValue, Type, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse, Value, async_trait,
};

use super::digest::{combined_digest, key_digests};
use super::placement::{self, budget};
use super::secret_object::{DesiredSecret, LiveMetadata, live_data};
use crate::ProviderConfig;
use crate::kube::{Budget, ObjectId, Objects, client_for};

pub use token::{CHART_KEYS, REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY};
use token::{REGISTRATION_TOKEN, RUNNER_TOKEN, RUNNER_TOKEN_PREFIX, RUNNER_TOKEN_WO, Token};

pub const TYPE_NAME: &str = "gitlabrunner_token_secret";

/// The resource.
#[derive(Debug, Default)]
pub struct TokenSecret;

/// The configuration's inputs at apply time (all known). Holds the token: no `Debug`.
#[derive(Deserialize)]
struct Inputs {
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
    timeouts: Option<Timeouts>,
    // Computed attributes may still be unknown in the plan; they are recomputed from the live
    // Secret, so their planned values are only skipped over here.
    #[serde(rename = "id")]
    _id: TfValue<IgnoredAny>,
    #[serde(rename = "uid")]
    _uid: TfValue<IgnoredAny>,
    #[serde(rename = "token_digest")]
    _token_digest: TfValue<IgnoredAny>,
    #[serde(rename = "key_digests")]
    _key_digests: TfValue<IgnoredAny>,
}

/// Stored state. Holds the token when `runner_token`/`registration_token` is used: no `Debug`.
#[derive(Serialize, Deserialize, Default)]
struct State {
    id: String,
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
    uid: Option<String>,
    token_digest: Option<String>,
    key_digests: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

impl State {
    fn from_inputs(inputs: Inputs) -> State {
        let id = ObjectId::new(&inputs.namespace, &inputs.name).to_string();
        State {
            id,
            namespace: inputs.namespace,
            name: inputs.name,
            labels: inputs.labels,
            annotations: inputs.annotations,
            runner_token: inputs.runner_token,
            runner_token_wo_version: inputs.runner_token_wo_version,
            registration_token: inputs.registration_token,
            timeouts: inputs.timeouts,
            ..State::default()
        }
    }

    /// Refreshes everything that can change outside Terraform from the live Secret.
    fn refresh(&mut self, live: &Secret) {
        let meta = LiveMetadata::of(live, self.labels.as_ref(), self.annotations.as_ref());
        let data = live_data(live);
        self.uid = meta.uid;
        self.labels = meta.labels;
        self.annotations = meta.annotations;
        self.token_digest = Some(combined_digest(&data, &CHART_KEYS));
        self.key_digests = Some(key_digests(&data));
    }

    /// After an import: the token attribute the live Secret implies (runner token first).
    fn adopt_token(&mut self, live: &Secret) {
        let data = live_data(live);
        let text = |key: &str| {
            data.get(key)
                .filter(|v| !v.is_empty())
                .and_then(|v| String::from_utf8(v.clone()).ok())
        };
        if let Some(t) = text(RUNNER_TOKEN_KEY) {
            self.runner_token = Some(t);
        } else if let Some(t) = text(REGISTRATION_TOKEN_KEY) {
            self.registration_token = Some(t);
        }
    }
}

fn schema() -> Schema {
    Schema::new()
        .description("The Kubernetes Secret holding a GitLab Runner token, named in the gitlab-runner chart's `runners.secret`. Always writes both keys the chart mounts (`runner-token` and `runner-registration-token`, empty when unused), and shows in plans which key changed without showing values.")
        .attribute("id", placement::id_attribute())
        .attribute("namespace", placement::namespace_attribute())
        .attribute("name", placement::name_attribute())
        .attribute("labels", placement::labels_attribute())
        .attribute("annotations", placement::annotations_attribute())
        .attribute(
            RUNNER_TOKEN,
            Attribute::string()
                .optional()
                .sensitive()
                .description(format!("The runner authentication token (`{RUNNER_TOKEN_PREFIX}…`) of a runner created in GitLab, e.g. `gitlab_user_runner.x.token`. Stored in state (sensitive); prefer `runner_token_wo`. Set exactly one of `runner_token`, `runner_token_wo`, `registration_token`.")),
        )
        .attribute(
            RUNNER_TOKEN_WO,
            Attribute::string()
                .optional()
                .sensitive()
                .write_only()
                .description("Write-only runner authentication token (Terraform/OpenTofu 1.11+): never stored in plan or state. Changes are detected through `key_digests`; bump `runner_token_wo_version` to make a rotation explicit."),
        )
        .attribute(
            token::RUNNER_TOKEN_WO_VERSION,
            Attribute::int64()
                .optional()
                .description("A number you change whenever `runner_token_wo` changes, to record the rotation in state."),
        )
        .attribute(
            REGISTRATION_TOKEN,
            Attribute::string()
                .optional()
                .sensitive()
                .deprecated("Runner registration tokens are deprecated since GitLab 15.6, disabled by default since 17.0 and scheduled for removal in 20.0. Create the runner in GitLab instead (UI, the runners API, or gitlab_user_runner in the gitlab provider) and pass its glrt- token as runner_token or runner_token_wo.")
                .description("A runner registration token (`GR1348941…`), written to the `runner-registration-token` key."),
        )
        .attribute(
            "uid",
            placement::uid_attribute(),
        )
        .attribute(
            "token_digest",
            Attribute::string()
                .computed()
                .description("`sha256:…` over both token keys of the live Secret. Reference it (e.g. as a pod annotation) to roll the runner when the token changes."),
        )
        .attribute(
            "key_digests",
            Attribute::map(Type::String)
                .computed()
                .description("`sha256:…` of each key of the live Secret; a plan shows which key changed without showing values."),
        )
        .block(tfplugin::timeouts::BLOCK_NAME, placement::timeouts_block())
}

#[async_trait]
impl Resource for TokenSecret {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(
        &self,
        request: ValidateRequest,
        response: &mut ValidateResponse,
    ) -> OpResult {
        response
            .diagnostics
            .extend(token::check_config(request.config.value()));
        Ok(())
    }

    async fn modify_plan(
        &self,
        _ctx: &Context,
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
        let wanted = Token::from_config(config).and_then(|t| t.secret_data());
        let (token_digest, digests) = match &wanted {
            Some(data) => (
                Value::from(combined_digest(data, &CHART_KEYS)),
                digests_value(&key_digests(data)),
            ),
            None => (Value::Unknown, Value::Unknown),
        };
        response
            .plan
            .set_value(&AttributePath::new("token_digest"), token_digest)?;
        response
            .plan
            .set_value(&AttributePath::new("key_digests"), digests)?;
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let budget = budget(&request.plan, Operation::Create, ctx)?;
        let state = apply(ctx, &request.config, &request.plan, &budget, true).await?;
        response.state.set(&state)?;
        Ok(())
    }

    async fn read(
        &self,
        ctx: &Context,
        request: ReadRequest,
        response: &mut ReadResponse,
    ) -> OpResult {
        let mut state: State = request.state.get()?;
        let Some(live) = placement::read_secret(ctx, &request.state).await? else {
            response.state.remove();
            return Ok(());
        };
        if placement::take_import_flag(&request.private, &mut response.private)? {
            state.adopt_token(&live);
        }
        state.id = ObjectId::new(&state.namespace, &state.name).to_string();
        state.refresh(&live);
        response.state.set(&state)?;
        Ok(())
    }

    async fn update(
        &self,
        ctx: &Context,
        request: UpdateRequest,
        response: &mut UpdateResponse,
    ) -> OpResult {
        let budget = budget(&request.plan, Operation::Update, ctx)?;
        let state = apply(ctx, &request.config, &request.plan, &budget, false).await?;
        response.state.set(&state)?;
        Ok(())
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

/// Writes the Secret the configuration describes and returns the state to store.
/// `creating`: refuse to take over a Secret this provider did not create.
async fn apply(
    ctx: &Context,
    config: &Document,
    plan: &Document,
    budget: &Budget,
    creating: bool,
) -> Result<State, tfplugin::Diagnostics> {
    let inputs: Inputs = plan.get()?;
    let data = Token::from_config(config.value())
        .and_then(|t| t.secret_data())
        .ok_or_else(|| {
            tfplugin::Diagnostic::error(
                "Runner Token Not Known",
                "The runner token is not known at apply time. Check that exactly one of runner_token, runner_token_wo or registration_token is set to a known value.",
            )
        })?;
    let desired = DesiredSecret {
        namespace: inputs.namespace.clone(),
        name: inputs.name.clone(),
        labels: inputs.labels.clone().unwrap_or_default(),
        annotations: inputs.annotations.clone().unwrap_or_default(),
        data,
    };
    let provider = ctx.provider::<ProviderConfig>()?;
    let objects = Objects::<Secret>::new(client_for(&provider).await?, &desired.namespace);
    let object = desired.to_object();
    let live = if creating {
        objects
            .create(&desired.name, &object, TYPE_NAME, budget)
            .await?
    } else {
        objects.apply(&desired.name, &object, budget).await?
    };
    let live = objects
        .prune(&desired.name, live.clone(), &desired.pruning(&live), budget)
        .await?;
    let mut state = State::from_inputs(inputs);
    state.refresh(&live);
    Ok(state)
}

fn digests_value(digests: &BTreeMap<String, String>) -> Value {
    Value::Map(
        digests
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_sound_and_described() {
        let s = schema();
        assert!(s.check().is_empty(), "{:?}", s.check());
        let wo = &s.block.attributes[RUNNER_TOKEN_WO];
        assert!(wo.write_only && wo.sensitive);
        assert!(s.block.attributes[RUNNER_TOKEN].sensitive);
        assert!(
            !s.block.attributes[REGISTRATION_TOKEN]
                .deprecation
                .is_empty()
        );
    }
}
