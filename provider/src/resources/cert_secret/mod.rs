//! `gitlabrunner_cert_secret`: the Secret named in the chart's `certsSecretName`, holding the
//! certificate the runner trusts for GitLab under the key `<gitlab host>.crt`.
//!
//! The certificate comes from `certificate_pem` (checked at plan time) or is copied from
//! another Secret (`source_secret`, read again at every plan so a changed source shows as an
//! update). `key_digests` and the certificate facts are refreshed from the live Secret, so edits
//! made outside Terraform show in the plan.

mod checks;
pub mod findings;
mod host;
mod model;
mod schema;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use tfplugin::timeouts::Operation;
use tfplugin::{
    AttributePath, Context, Diagnostic, Diagnostics, OpResult, PlanRequest, PlanResponse, Schema,
    Value,
};

use super::digest::{all_keys_digest, key_digests};
use super::placement::budget;
use super::secret_object::live_data;
use super::secret_resource::{SecretData, SecretKind, SecretResource, WriteRequest};
use crate::ProviderConfig;
use crate::certificates::{CertificateInfo, parse_chain};
use crate::kube::{Budget, Objects, client_for};
use checks::{host_of, warn_days};
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
pub type CertSecret = SecretResource<Kind>;

/// What this Secret resource writes and plans.
#[derive(Debug, Default)]
pub struct Kind;

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
    for f in findings::findings(
        &wanted.chain,
        &wanted.host,
        warn_days,
        time::OffsetDateTime::now_utc(),
    ) {
        diagnostics.push(Diagnostic::warning(f.summary, f.detail).at(at.clone()));
    }
}

impl SecretKind for Kind {
    const TYPE_NAME: &'static str = TYPE_NAME;
    const SCHEMA: fn() -> Schema = schema::schema;
    const CHECK_CONFIG: fn(&Value) -> Diagnostics = checks::check_config;

    async fn plan(ctx: &Context, request: PlanRequest, response: &mut PlanResponse) -> OpResult {
        let config = request.config.value();
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
            "certs_digest",
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
                plan.set_attr(
                    &AttributePath::new("certs_digest"),
                    &all_keys_digest(&wanted.data),
                )?;
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

    type State = State;

    async fn desired(write: &WriteRequest<'_>) -> Result<(SecretData, State), Diagnostics> {
        let inputs: Inputs = write.inputs()?;
        let host = host_of(write.plan.value())?.ok_or_else(|| {
            Diagnostic::error(
                "GitLab Host Not Known",
                "Neither gitlab_url nor gitlab_hostname is known at apply time.",
            )
        })?;
        let at = certificate_path(&inputs.source_secret);
        let pem = match (&inputs.certificate_pem, &inputs.source_secret) {
            (Some(pem), _) => pem.as_bytes().to_vec(),
            (None, Some(source)) => read_source(write.ctx, source, write.budget).await?.ok_or_else(|| {
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
        Ok((wanted.data, State::from_inputs(inputs, wanted.file_name)))
    }
}
