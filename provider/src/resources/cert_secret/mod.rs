//! `gitlabrunner_cert_secret`: the Secret named in the chart's `certsSecretName`, holding the
//! certificate the runner trusts for GitLab under the key `<gitlab host>.crt`.
//!
//! The certificate comes from `certificate_pem` (checked at plan time) or is copied from
//! another Secret (`source_secret`, read again at every plan so a changed source shows as an
//! update). `key_digests` and the certificate facts are refreshed from the live Secret, so edits
//! made outside Terraform show in the plan.

mod certificate;
mod host;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tfplugin::timeouts::{Operation, Timeouts};
use tfplugin::{
    Attribute, AttributePath, Block, Context, CreateRequest, CreateResponse, DeleteRequest,
    DeleteResponse, Diagnostic, Diagnostics, Document, ImportRequest, ImportResponse, NestedBlock,
    OpResult, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Resource, Schema, TfValue,
    Type, UpdateRequest, UpdateResponse, ValidateRequest, ValidateResponse, Value, async_trait,
    validators,
};

use super::digest::key_digests;
use super::placement::{self, budget};
use super::secret_object::{DesiredSecret, LiveMetadata, live_data};
use crate::ProviderConfig;
use crate::kube::{
    Budget, ObjectId, Objects, client_for, dns1123_label_validator, dns1123_subdomain_validator,
};
use certificate::{CertificateInfo, parse_chain, rfc3339};
pub use host::file_name;

pub const TYPE_NAME: &str = "gitlabrunner_cert_secret";

const IMPORTED: &str = "imported";
const DEFAULT_EXPIRY_WARNING_DAYS: i64 = 30;

const GITLAB_URL: &str = "gitlab_url";
const GITLAB_HOSTNAME: &str = "gitlab_hostname";
const CERTIFICATE_PEM: &str = "certificate_pem";
const SOURCE_SECRET: &str = "source_secret";
const EXTRA_FILES: &str = "extra_files";

/// The resource.
#[derive(Debug, Default)]
pub struct CertSecret;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SourceSecret {
    namespace: String,
    name: String,
    key: String,
}

/// The configuration's inputs at apply time.
#[derive(Deserialize)]
struct Inputs {
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    gitlab_url: Option<String>,
    gitlab_hostname: Option<String>,
    certificate_pem: Option<String>,
    source_secret: Option<SourceSecret>,
    extra_files: Option<BTreeMap<String, String>>,
    expiry_warning_days: Option<i64>,
    timeouts: Option<Timeouts>,
    // Computed attributes (maybe unknown in the plan), recomputed from the live Secret.
    #[serde(rename = "id")]
    _id: TfValue<IgnoredAny>,
    #[serde(rename = "uid")]
    _uid: TfValue<IgnoredAny>,
    #[serde(rename = "sha256_fingerprint")]
    _fingerprint: TfValue<IgnoredAny>,
    #[serde(rename = "not_after")]
    _not_after: TfValue<IgnoredAny>,
    #[serde(rename = "subject")]
    _subject: TfValue<IgnoredAny>,
    #[serde(rename = "dns_names")]
    _dns_names: TfValue<IgnoredAny>,
    #[serde(rename = "file_name")]
    _file_name: TfValue<IgnoredAny>,
    #[serde(rename = "key_digests")]
    _key_digests: TfValue<IgnoredAny>,
}

#[derive(Serialize, Deserialize, Default)]
struct State {
    id: String,
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    gitlab_url: Option<String>,
    gitlab_hostname: Option<String>,
    certificate_pem: Option<String>,
    source_secret: Option<SourceSecret>,
    extra_files: Option<BTreeMap<String, String>>,
    expiry_warning_days: Option<i64>,
    uid: Option<String>,
    sha256_fingerprint: Option<String>,
    not_after: Option<String>,
    subject: Option<String>,
    dns_names: Option<Vec<String>>,
    file_name: Option<String>,
    key_digests: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

impl State {
    fn from_inputs(inputs: Inputs, file_name: String) -> State {
        State {
            id: ObjectId::new(&inputs.namespace, &inputs.name).to_string(),
            namespace: inputs.namespace,
            name: inputs.name,
            labels: inputs.labels,
            annotations: inputs.annotations,
            gitlab_url: inputs.gitlab_url,
            gitlab_hostname: inputs.gitlab_hostname,
            certificate_pem: inputs.certificate_pem,
            source_secret: inputs.source_secret,
            extra_files: inputs.extra_files,
            expiry_warning_days: inputs.expiry_warning_days,
            file_name: Some(file_name),
            timeouts: inputs.timeouts,
            ..State::default()
        }
    }

    /// Refreshes what can change outside Terraform from the live Secret.
    fn refresh(&mut self, live: &Secret) {
        let meta = LiveMetadata::of(live, self.labels.as_ref(), self.annotations.as_ref());
        let data = live_data(live);
        self.uid = meta.uid;
        self.labels = meta.labels;
        self.annotations = meta.annotations;
        self.key_digests = Some(key_digests(&data));
        let leaf = self
            .file_name
            .as_ref()
            .and_then(|f| data.get(f))
            .and_then(|pem| parse_chain(pem).ok())
            .and_then(|chain| chain.into_iter().next());
        self.set_certificate_facts(leaf.as_ref());
    }

    fn set_certificate_facts(&mut self, leaf: Option<&CertificateInfo>) {
        self.sha256_fingerprint = leaf.map(|c| c.sha256_fingerprint.clone());
        self.not_after = leaf.map(|c| rfc3339(c.not_after));
        self.subject = leaf.map(|c| c.subject.clone());
        self.dns_names = leaf.map(|c| c.dns_names.clone());
    }

    /// After an import: the inputs the live Secret implies (host from the first `*.crt` key).
    fn adopt_inputs(&mut self, live: &Secret) {
        let data = live_data(live);
        let Some(file) = data.keys().find(|k| k.ends_with(".crt")).cloned() else {
            return;
        };
        let text = |v: &Vec<u8>| String::from_utf8(v.clone()).ok();
        self.gitlab_hostname = Some(file.trim_end_matches(".crt").to_owned());
        self.certificate_pem = data.get(&file).and_then(text);
        let extra: BTreeMap<String, String> = data
            .iter()
            .filter(|(k, _)| **k != file)
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect();
        self.extra_files = (!extra.is_empty()).then_some(extra);
        self.file_name = Some(file);
        self.expiry_warning_days
            .get_or_insert(DEFAULT_EXPIRY_WARNING_DAYS);
    }
}

fn schema() -> Schema {
    let source = Block::new()
        .description("Copy the certificate from another Secret (e.g. the GitLab chart's `<release>-wildcard-tls-chain`). It is read at every plan, so a changed source shows as an update.")
        .attribute(
            "namespace",
            Attribute::string()
                .required()
                .validator(dns1123_label_validator())
                .description("Namespace of the source Secret."),
        )
        .attribute(
            "name",
            Attribute::string()
                .required()
                .validator(dns1123_subdomain_validator())
                .description("Name of the source Secret."),
        )
        .attribute(
            "key",
            Attribute::string()
                .required()
                .description("Key of the source Secret holding the PEM certificate (chain), e.g. `tls.crt` or `gitlab.example.com.crt`."),
        );
    Schema::new()
        .description("The Kubernetes Secret with the certificate GitLab Runner trusts for GitLab, named in the gitlab-runner chart's `certsSecretName`. Derives the file name the runner looks for (`<gitlab host>.crt`), checks the certificate at plan time, and warns before it expires.")
        .attribute("id", placement::id_attribute())
        .attribute("namespace", placement::namespace_attribute())
        .attribute("name", placement::name_attribute())
        .attribute("labels", placement::labels_attribute())
        .attribute("annotations", placement::annotations_attribute())
        .attribute(
            GITLAB_URL,
            Attribute::string()
                .optional()
                .description("GitLab's URL (e.g. the release's `gitlab_url`); the Secret key is its host name plus `.crt`. Set this or `gitlab_hostname`."),
        )
        .attribute(
            GITLAB_HOSTNAME,
            Attribute::string()
                .optional()
                .description("GitLab's host name, e.g. `gitlab.example.com`, when you do not have the URL at hand. Set this or `gitlab_url`."),
        )
        .attribute(
            CERTIFICATE_PEM,
            Attribute::string()
                .optional()
                .description("PEM certificate chain to trust (server certificate and/or CA certificates). Every block must be an X.509 certificate. Set this or `source_secret`."),
        )
        .attribute(
            EXTRA_FILES,
            Attribute::map(Type::String)
                .optional()
                .validator(validators::from_fn("keys must be Secret keys", |value, path, diagnostics: &mut Diagnostics| {
                    for key in value.as_entries().into_iter().flat_map(|m| m.keys()) {
                        if !host::is_secret_key(key) {
                            diagnostics.attribute_error(
                                path.key(key),
                                "Invalid File Name",
                                format!("{key:?} cannot be a Secret key: use letters, digits, \"-\", \".\" and \"_\" only (at most 253 characters)."),
                            );
                        }
                    }
                }))
                .description("More files for the certs directory, file name → content (e.g. `ca.crt` for a CA the runner passes to jobs)."),
        )
        .attribute(
            "expiry_warning_days",
            Attribute::int64()
                .optional()
                .default(DEFAULT_EXPIRY_WARNING_DAYS)
                .validator(validators::int_between(0, 3650))
                .description("Plans warn when a certificate expires within this many days (default 30)."),
        )
        .attribute("uid", placement::uid_attribute())
        .attribute(
            "sha256_fingerprint",
            Attribute::string().computed().description("SHA-256 fingerprint of the first certificate in the file (colon-separated hex, as openssl prints it)."),
        )
        .attribute(
            "not_after",
            Attribute::string().computed().description("Expiry of the first certificate (RFC 3339, UTC)."),
        )
        .attribute(
            "subject",
            Attribute::string().computed().description("Subject of the first certificate."),
        )
        .attribute(
            "dns_names",
            Attribute::list(Type::String).computed().description("DNS subject alternative names of the first certificate."),
        )
        .attribute(
            "file_name",
            Attribute::string().computed().description("The Secret key holding the certificate: `<gitlab host>.crt`, the file the runner reads."),
        )
        .attribute(
            "key_digests",
            Attribute::map(Type::String).computed().description("`sha256:…` of each key of the live Secret; a plan shows which file changed."),
        )
        .block(SOURCE_SECRET, NestedBlock::single(source))
        .block(tfplugin::timeouts::BLOCK_NAME, placement::timeouts_block())
}

/// The host from whichever of `gitlab_url` / `gitlab_hostname` is set (`Ok(None)` when unknown).
fn host_of(config: &Value) -> Result<Option<String>, Diagnostic> {
    let known = |name| config.attr(name).and_then(Value::as_str);
    if let Some(url) = known(GITLAB_URL) {
        return host::host_from_url(url).map(Some).map_err(|e| {
            Diagnostic::error("Invalid GitLab URL", format!("gitlab_url {e}."))
                .at(AttributePath::new(GITLAB_URL))
        });
    }
    if let Some(h) = known(GITLAB_HOSTNAME) {
        return host::checked_hostname(h).map(Some).map_err(|e| {
            Diagnostic::error("Invalid GitLab Host Name", format!("gitlab_hostname {e}."))
                .at(AttributePath::new(GITLAB_HOSTNAME))
        });
    }
    Ok(None)
}

/// Checks that need only the configuration: one host attribute, one certificate source, a
/// parseable `certificate_pem`, extra files not clashing with the certificate's file.
fn check_config(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let is_set = |name| config.attr(name).is_some_and(|v| !v.is_null());
    exactly_one(
        &mut d,
        is_set(GITLAB_URL),
        is_set(GITLAB_HOSTNAME),
        GITLAB_URL,
        GITLAB_HOSTNAME,
        "Missing GitLab Host",
        "the GitLab host, so the provider can name the file `<host>.crt` the runner reads",
    );
    exactly_one(
        &mut d,
        is_set(CERTIFICATE_PEM),
        is_set(SOURCE_SECRET),
        CERTIFICATE_PEM,
        SOURCE_SECRET,
        "Missing Certificate",
        "the certificate",
    );
    let host = match host_of(config) {
        Ok(h) => h,
        Err(e) => {
            d.push(e);
            None
        }
    };
    if let Some(pem) = config.attr(CERTIFICATE_PEM).and_then(Value::as_str)
        && let Err(e) = parse_chain(pem.as_bytes())
    {
        d.attribute_error(
            AttributePath::new(CERTIFICATE_PEM),
            "Invalid Certificate",
            format!("certificate_pem {e}."),
        );
    }
    if let (Some(host), Some(files)) = (host, config.attr(EXTRA_FILES).and_then(Value::as_entries))
    {
        let name = file_name(&host);
        if files.contains_key(&name) {
            d.attribute_error(
                AttributePath::new(EXTRA_FILES).key(&name),
                "File Name Clash",
                format!("{name:?} is the file the certificate goes to (derived from the GitLab host); remove it from extra_files."),
            );
        }
    }
    d
}

fn exactly_one(
    d: &mut Diagnostics,
    a_set: bool,
    b_set: bool,
    a: &str,
    b: &str,
    summary: &str,
    what: &str,
) {
    match (a_set, b_set) {
        (false, false) => d.attribute_error(
            AttributePath::new(a),
            summary,
            format!("Set {a} or {b} to give {what}."),
        ),
        (true, true) => d.attribute_error(
            AttributePath::new(b),
            "Conflicting Attributes",
            format!("Set only one of {a} and {b}; both are set. Remove {b}."),
        ),
        _ => {}
    }
}

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
        schema()
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
        let warn_days = config
            .attr("expiry_warning_days")
            .and_then(Value::as_number)
            .and_then(|n| n.as_i64())
            .unwrap_or(DEFAULT_EXPIRY_WARNING_DAYS);
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
        let state = apply(ctx, &request.plan, &budget, true, &mut response.diagnostics).await?;
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
        let budget = budget(&request.state, Operation::Read, ctx)?;
        let provider = ctx.provider::<ProviderConfig>()?;
        let objects = Objects::<Secret>::new(client_for(&provider).await?, &state.namespace);
        let Some(live) = objects.get(&state.name, &budget).await? else {
            response.state.remove();
            return Ok(());
        };
        if request.private.get::<bool>(IMPORTED)?.unwrap_or(false) {
            state.adopt_inputs(&live);
            response.private.remove(IMPORTED);
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
        let state = apply(
            ctx,
            &request.plan,
            &budget,
            false,
            &mut response.diagnostics,
        )
        .await?;
        response.state.set(&state)?;
        Ok(())
    }

    async fn delete(
        &self,
        ctx: &Context,
        request: DeleteRequest,
        _response: &mut DeleteResponse,
    ) -> OpResult {
        let state: State = request.prior_state.get()?;
        let budget = budget(&request.prior_state, Operation::Delete, ctx)?;
        let provider = ctx.provider::<ProviderConfig>()?;
        let objects = Objects::<Secret>::new(client_for(&provider).await?, &state.namespace);
        objects.delete(&state.name, &budget).await?;
        Ok(())
    }

    async fn import(
        &self,
        _ctx: &Context,
        request: ImportRequest,
        response: &mut ImportResponse,
    ) -> OpResult {
        let id = ObjectId::parse_import_id(&request.id)?;
        response
            .state
            .set_attr(&AttributePath::new("id"), &id.to_string())?;
        response
            .state
            .set_attr(&AttributePath::new("namespace"), &id.namespace)?;
        response
            .state
            .set_attr(&AttributePath::new("name"), &id.name)?;
        response.private.set(IMPORTED, &true)?;
        Ok(())
    }
}

/// Writes the Secret the plan describes and returns the state to store.
async fn apply(
    ctx: &Context,
    plan: &Document,
    budget: &Budget,
    creating: bool,
    _diagnostics: &mut Diagnostics,
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

#[cfg(test)]
mod tests {
    use super::*;
    use certificate::tests::certificate;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let names = [
            GITLAB_URL,
            GITLAB_HOSTNAME,
            CERTIFICATE_PEM,
            SOURCE_SECRET,
            EXTRA_FILES,
        ];
        let mut all: Vec<(&str, Value)> = names.iter().map(|n| (*n, Value::Null)).collect();
        for (k, v) in pairs {
            all.retain(|(n, _)| n != k);
            all.push((k, v.clone()));
        }
        Value::object(all)
    }

    fn paths(d: &Diagnostics) -> Vec<(String, String)> {
        d.iter()
            .map(|d| {
                (
                    d.summary.clone(),
                    d.attribute
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn schema_is_sound_and_described() {
        assert!(schema().check().is_empty(), "{:?}", schema().check());
    }

    #[test]
    fn host_and_certificate_are_each_required_once() {
        let d = check_config(&config(&[]));
        assert_eq!(
            paths(&d),
            vec![
                ("Missing GitLab Host".into(), "gitlab_url".into()),
                ("Missing Certificate".into(), "certificate_pem".into())
            ]
        );
        let pem = certificate(&["gitlab.example.com"], 90, false);
        let both = check_config(&config(&[
            (GITLAB_URL, Value::from("https://gitlab.example.com")),
            (GITLAB_HOSTNAME, Value::from("gitlab.example.com")),
            (CERTIFICATE_PEM, Value::from(pem.as_str())),
        ]));
        assert_eq!(
            paths(&both),
            vec![("Conflicting Attributes".into(), "gitlab_hostname".into())]
        );
    }

    #[test]
    fn a_bad_certificate_and_a_bad_url_point_at_their_attributes() {
        let d = check_config(&config(&[
            (GITLAB_URL, Value::from("gitlab.example.com")),
            (
                CERTIFICATE_PEM,
                Value::from("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            ),
        ]));
        assert_eq!(
            paths(&d),
            vec![
                ("Invalid GitLab URL".into(), "gitlab_url".into()),
                ("Invalid Certificate".into(), "certificate_pem".into())
            ]
        );
        assert!(d.iter().nth(1).unwrap().detail.contains("PEM block 1"));
    }

    #[test]
    fn extra_files_may_not_replace_the_certificate_file() {
        let pem = certificate(&["gitlab.example.com"], 90, false);
        let d = check_config(&config(&[
            (GITLAB_HOSTNAME, Value::from("gitlab.example.com")),
            (CERTIFICATE_PEM, Value::from(pem.as_str())),
            (
                EXTRA_FILES,
                Value::Map(BTreeMap::from([(
                    "gitlab.example.com.crt".to_owned(),
                    Value::from("x"),
                )])),
            ),
        ]));
        assert_eq!(
            paths(&d),
            vec![(
                "File Name Clash".into(),
                "extra_files[\"gitlab.example.com.crt\"]".into()
            )]
        );
    }
}
