//! `gitlabrunner_cert_secret`: the Secret named in the chart's `certsSecretName`, holding the
//! certificate the runner trusts for GitLab under the key `<gitlab host>.crt`.
//!
//! The certificate comes from `certificate_pem` (checked at plan time) or is copied from
//! another Secret (`source_secret`, read again at every plan so a changed source shows as an
//! update). `key_digests` and the certificate facts are refreshed from the live Secret, so edits
//! made outside Terraform show in the plan.

pub mod certificate;
mod checks;
mod host;
mod model;
mod schema;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    Diagnostic, Diagnostics, Document, ImportRequest, ImportResponse, OpResult, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource, Schema, UpdateRequest, UpdateResponse,
    ValidateRequest, ValidateResponse, Value, async_trait,
};

use super::digest::key_digests;
use super::placement::{self, budget};
use super::secret_object::{DesiredSecret, live_data};
use crate::ProviderConfig;
use crate::kube::{Budget, ObjectId, Objects, client_for};
use certificate::{CertificateInfo, parse_chain};
use checks::{check_config, host_of, warn_days};
pub use host::file_name;
use model::{Inputs, SourceSecret, State};

pub const TYPE_NAME: &str = "gitlabrunner_cert_secret";

const DEFAULT_EXPIRY_WARNING_DAYS: i64 = 30;
/// The largest `expiry_warning_days` (ten years).
const MAX_EXPIRY_WARNING_DAYS: i64 = 3650;
const EXPIRY_WARNING_DAYS: &str = "expiry_warning_days";

const GITLAB_URL: &str = "gitlab_url";
const GITLAB_HOSTNAME: &str = "gitlab_hostname";
const CERTIFICATE_PEM: &str = "certificate_pem";
const SOURCE_SECRET: &str = "source_secret";
const EXTRA_FILES: &str = "extra_files";

/// The resource.
#[derive(Debug, Default)]
pub struct CertSecret;

/// The certificate file, the extra files and the parsed chain the configuration wants.
struct Wanted {
    host: String,
    file_name: String,
    data: BTreeMap<String, Vec<u8>>,
    chain: Vec<CertificateInfo>,
}

/// Where the certificate comes from, for errors and warnings.
fn certificate_path(source: &Option<SourceSecret>) -> AttributePath {
    match source {
        Some(_) => AttributePath::new(SOURCE_SECRET),
        None => AttributePath::new(CERTIFICATE_PEM),
    }
}

/// Reads the certificate from the source Secret; `Ok(None)` when that Secret does not exist.
async fn read_source(
    ctx: &Context,
    source: &SourceSecret,
    budget: &Budget,
) -> Result<Option<Vec<u8>>, Diagnostics> {
    let provider = ctx.provider::<ProviderConfig>()?;
    let objects = Objects::<Secret>::new(client_for(&provider).await?, &source.namespace);
    let Some(secret) = objects.get(&source.name, budget).await? else {
        return Ok(None);
    };
    let mut data = live_data(&secret);
    match data.remove(&source.key) {
        Some(pem) => Ok(Some(pem)),
        None => {
            let keys: Vec<String> = data.into_keys().collect();
            Err(Diagnostic::error(
                "Key Not In Source Secret",
                format!(
                    "Secret {}/{} has no key {:?}; its keys are: {}.",
                    source.namespace,
                    source.name,
                    source.key,
                    if keys.is_empty() {
                        "(none)".to_owned()
                    } else {
                        keys.join(", ")
                    }
                ),
            )
            .at(AttributePath::new(SOURCE_SECRET).attr("key"))
            .into())
        }
    }
}

fn wanted(
    host: String,
    pem: Vec<u8>,
    extra_files: &BTreeMap<String, String>,
    at: &AttributePath,
) -> Result<Wanted, Diagnostic> {
    let chain = parse_chain(&pem).map_err(|e| {
        Diagnostic::error("Invalid Certificate", format!("The certificate {e}.")).at(at.clone())
    })?;
    let file_name = file_name(&host);
    let mut data: BTreeMap<String, Vec<u8>> = extra_files
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    data.insert(file_name.clone(), pem);
    Ok(Wanted {
        host,
        file_name,
        data,
        chain,
    })
}

fn warn(diagnostics: &mut Diagnostics, wanted: &Wanted, warn_days: i64, at: &AttributePath) {
    for f in certificate::findings(
        &wanted.chain,
        &wanted.host,
        warn_days,
        time::OffsetDateTime::now_utc(),
    ) {
        diagnostics.push(Diagnostic::warning(f.summary, f.detail).at(at.clone()));
    }
}

#[async_trait]
impl Resource for CertSecret {
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
        response
            .diagnostics
            .extend(check_config(request.config.value()));
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
        let host = host_of(config)?;
        let file = host
            .as_deref()
            .map_or(Value::Unknown, |h| Value::from(file_name(h)));
        response
            .plan
            .set_value(&AttributePath::new("file_name"), file)?;

        let source: Option<SourceSecret> = request
            .config
            .get_attr(&AttributePath::new(SOURCE_SECRET))
            .unwrap_or(None);
        let pem = match (
            config.attr(CERTIFICATE_PEM).and_then(Value::as_str),
            &source,
        ) {
            (Some(pem), _) => Some(pem.as_bytes().to_vec()),
            (None, Some(source)) => {
                let provider = ctx.provider::<ProviderConfig>()?;
                if provider.has_unknowns() {
                    None
                } else {
                    let budget = budget(&request.config, Operation::Read, ctx)?;
                    read_source(ctx, source, &budget).await?
                }
            }
            (None, None) => None,
        };
        let extra: Option<BTreeMap<String, String>> = match config.attr(EXTRA_FILES) {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(v) if v.is_wholly_known() => {
                request.config.get_attr(&AttributePath::new(EXTRA_FILES))?
            }
            Some(_) => None,
        };
        let warn_days = warn_days(config)?;
        let at = certificate_path(&source);
        let computed = [
            "sha256_fingerprint",
            "not_after",
            "subject",
            "dns_names",
            "key_digests",
        ];
        match (host, pem, extra) {
            (Some(host), Some(pem), Some(extra)) => {
                let wanted = wanted(host, pem, &extra, &at)?;
                warn(&mut response.diagnostics, &wanted, warn_days, &at);
                let mut facts = State::default();
                facts.set_certificate_facts(wanted.chain.first());
                let digests = key_digests(&wanted.data);
                let plan = &mut response.plan;
                plan.set_attr(
                    &AttributePath::new("sha256_fingerprint"),
                    &facts.sha256_fingerprint,
                )?;
                plan.set_attr(&AttributePath::new("not_after"), &facts.not_after)?;
                plan.set_attr(&AttributePath::new("subject"), &facts.subject)?;
                plan.set_attr(&AttributePath::new("dns_names"), &facts.dns_names)?;
                plan.set_attr(&AttributePath::new("key_digests"), &digests)?;
            }
            _ => {
                for name in computed {
                    response
                        .plan
                        .set_value(&AttributePath::new(name), Value::Unknown)?;
                }
            }
        }
        Ok(())
    }

    async fn create(
        &self,
        ctx: &Context,
        request: CreateRequest,
        response: &mut CreateResponse,
    ) -> OpResult {
        let budget = budget(&request.plan, Operation::Create, ctx)?;
        let state = apply(ctx, &request.plan, &budget, true).await?;
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
            state.adopt_inputs(&live);
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
        let state = apply(ctx, &request.plan, &budget, false).await?;
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

/// Writes the Secret the plan describes and returns the state to store.
async fn apply(
    ctx: &Context,
    plan: &Document,
    budget: &Budget,
    creating: bool,
) -> Result<State, Diagnostics> {
    let inputs: Inputs = plan.get()?;
    let host = host_of(plan.value())?.ok_or_else(|| {
        Diagnostic::error(
            "GitLab Host Not Known",
            "Neither gitlab_url nor gitlab_hostname is known at apply time.",
        )
    })?;
    let at = certificate_path(&inputs.source_secret);
    let pem = match (&inputs.certificate_pem, &inputs.source_secret) {
        (Some(pem), _) => pem.as_bytes().to_vec(),
        (None, Some(source)) => read_source(ctx, source, budget).await?.ok_or_else(|| {
            Diagnostic::error(
                "Source Secret Not Found",
                format!(
                    "Secret {}/{} (source_secret) does not exist. Create it first, or make this resource depend on whatever creates it.",
                    source.namespace, source.name
                ),
            )
            .at(AttributePath::new(SOURCE_SECRET))
        })?,
        (None, None) => {
            return Err(Diagnostic::error("Missing Certificate", "Set certificate_pem or source_secret.").into());
        }
    };
    let wanted = wanted(
        host,
        pem,
        &inputs.extra_files.clone().unwrap_or_default(),
        &at,
    )?;
    let desired = DesiredSecret {
        namespace: inputs.namespace.clone(),
        name: inputs.name.clone(),
        labels: inputs.labels.clone().unwrap_or_default(),
        annotations: inputs.annotations.clone().unwrap_or_default(),
        data: wanted.data,
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
    let mut state = State::from_inputs(inputs, wanted.file_name);
    state.refresh(&live);
    Ok(state)
}
