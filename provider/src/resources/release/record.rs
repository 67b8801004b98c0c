//! The settings record: the resource's non-secret input attributes, kept so that `terraform
//! import` can restore the configuration that installed the release (and the plan after an
//! import is empty when the configuration matches).
//!
//! The record does **not** travel in helm's argv (readable by every local user in
//! `/proc/<pid>/cmdline`, and limited to 128 KiB per argument). Only a short identifier does:
//! the revision's `--description` is `terraform-provider-gitlabrunner settings: sha256:<hex>`,
//! the digest of the record. The record itself is a Secret of ours next to helm's
//! (`gitlabrunner.settings.v1.<release>`, gzip'd JSON), written after helm recorded the revision
//! and owned by that revision's Secret, so it goes when helm deletes the revision (uninstall,
//! history pruning). Import restores it only when its digest matches the newest revision's
//! description. Releases installed by older versions of the provider carry the JSON in the
//! description itself; that form is still read. See README.md ("Settings record").

use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use helm_driver::ReleaseRecord;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    ManagedFieldsEntry, ObjectMeta, OwnerReference,
};
use kube::Api;
use kube::api::{Patch, PatchParams};
use sha2::{Digest as _, Sha256};
use tfplugin::codec::json;
use tfplugin::{Attribute, AttributePath, Block, Type, Value};

use crate::kube::{
    Action, Budget, FIELD_MANAGER, KubeError, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Verb, classify,
};

/// Start of a description that carries a settings record (or its digest).
pub const PREFIX: &str = "terraform-provider-gitlabrunner settings: ";
const DIGEST_PREFIX: &str = "sha256:";
/// The record Secret's `type`.
pub const SECRET_TYPE: &str = "gitlabrunner.io/settings.v1";
/// The record Secret's data key (gzip'd JSON).
const DATA_KEY: &str = "settings.json.gz";
/// The field manager records were written with before they used [`FIELD_MANAGER`]; its entry is
/// dropped from a record on its next write, so the record has one owner like everything else.
const LEGACY_FIELD_MANAGER: &str = "terraform-provider-gitlabrunner";
/// A record larger than this once decompressed is not restored.
const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Whether an attribute is part of the record: an input (required or optional) that is neither
/// sensitive nor write-only. Computed results and secrets are never recorded — decided by the
/// schema's flags, so a new sensitive attribute is left out without being listed anywhere.
fn is_recorded(attribute: &Attribute) -> bool {
    (attribute.required || attribute.optional) && !attribute.sensitive && !attribute.write_only
}

/// Sets every attribute of `value` (an object of `block`) that is not recorded to null, in
/// nested blocks too.
fn strip_unrecorded(block: &Block, value: &mut Value) {
    let Value::Object(entries) = value else {
        return;
    };
    for (name, slot) in entries.iter_mut() {
        if let Some(attribute) = block.attributes.get(name) {
            if !is_recorded(attribute) {
                *slot = Value::Null;
            }
        } else if let Some(nested) = block.blocks.get(name) {
            match slot {
                Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                    for item in items {
                        strip_unrecorded(&nested.block, item);
                    }
                }
                Value::Map(items) => {
                    for item in items.values_mut() {
                        strip_unrecorded(&nested.block, item);
                    }
                }
                other => strip_unrecorded(&nested.block, other),
            }
        } else {
            // Not in the schema: nothing is recorded that the schema does not describe.
            *slot = Value::Null;
        }
    }
}

/// The record of one apply: its JSON and the digest that names it in helm's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    json: String,
    digest: String,
}

impl Settings {
    /// The `--description` of the revision: the prefix and the record's digest (no content).
    pub fn description(&self) -> String {
        format!("{PREFIX}{DIGEST_PREFIX}{}", self.digest)
    }

    /// Writes the record Secret when helm's newest revision `latest` was made with this
    /// record's description (not when helm recorded nothing, or rolled back). Failures are
    /// logged: import then restores schema defaults only, as for a release made elsewhere.
    /// Transient API errors are retried (the whole GET + server-side apply, which is idempotent)
    /// within `budget`; permanent ones are logged after one answer.
    pub async fn store(
        &self,
        client: &kube::Client,
        namespace: &str,
        release: &str,
        latest: &ReleaseRecord,
        budget: &Budget,
    ) {
        if latest.description.as_deref() != Some(self.description().as_str()) {
            return;
        }
        let action = record_action(Verb::Patch, namespace, release);
        let written = budget
            .retry_classified(
                &action,
                || self.write(client, namespace, release, latest.version),
                |error, attempts| record_error(&action, error, attempts),
            )
            .await;
        if let Err(error) = written {
            tracing::warn!(
                release,
                namespace,
                %error,
                "could not write the settings record; an import of this release will restore schema defaults only"
            );
        }
    }

    async fn write(
        &self,
        client: &kube::Client,
        namespace: &str,
        release: &str,
        revision: u64,
    ) -> Result<(), RecordError> {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let owner = api
            .get(&format!("sh.helm.release.v1.{release}.v{revision}"))
            .await?;
        let secret = self.record_secret(namespace, release, owner)?;
        let written = api
            .patch(
                &secret_name(release),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await?;
        drop_legacy_manager(&api, &written).await
    }

    /// The record Secret, owned by helm's revision Secret `owner`.
    fn record_secret(
        &self,
        namespace: &str,
        release: &str,
        owner: Secret,
    ) -> Result<Secret, RecordError> {
        let owner_name = owner.metadata.name.unwrap_or_default();
        let owner_uid = owner.metadata.uid.ok_or(RecordError::NoOwnerUid)?;
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(self.json.as_bytes())?;
        let compressed = gzip.finish()?;
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(release)),
                namespace: Some(namespace.to_owned()),
                labels: Some(
                    [
                        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
                        ("gitlabrunner.io/release".to_owned(), release.to_owned()),
                    ]
                    .into(),
                ),
                annotations: Some(
                    [(
                        "gitlabrunner.io/settings-digest".to_owned(),
                        self.digest.clone(),
                    )]
                    .into(),
                ),
                owner_references: Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                    name: owner_name,
                    uid: owner_uid,
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.into()),
            data: Some([(DATA_KEY.to_owned(), ByteString(compressed))].into()),
            ..Secret::default()
        })
    }
}

/// Removes [`LEGACY_FIELD_MANAGER`]'s entry from a record just applied by [`FIELD_MANAGER`]:
/// applying the same values shares their ownership instead of moving it, so the old entry would
/// otherwise stay. Guarded by the resourceVersion of `written` (a change in between is a 409).
async fn drop_legacy_manager(api: &Api<Secret>, written: &Secret) -> Result<(), RecordError> {
    let entries = written
        .metadata
        .managed_fields
        .as_deref()
        .unwrap_or_default();
    let is_legacy =
        |entry: &ManagedFieldsEntry| entry.manager.as_deref() == Some(LEGACY_FIELD_MANAGER);
    if !entries.iter().any(is_legacy) {
        return Ok(());
    }
    let kept: Vec<&ManagedFieldsEntry> = entries.iter().filter(|e| !is_legacy(e)).collect();
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": written.metadata.resource_version,
            "managedFields": kept,
        }
    });
    let name = written.metadata.name.as_deref().unwrap_or_default();
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Why a record could not be written or read. Only logged, as text: the causes are part of
/// the messages (and so not also the `source()`).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("Kubernetes API: {0}")]
    Api(kube::Error),
    #[error("helm's revision Secret has no uid")]
    NoOwnerUid,
    #[error("compression: {0}")]
    Io(std::io::Error),
    #[error("the record is larger than {MAX_RECORD_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("the record Secret holds no {DATA_KEY}")]
    NoData,
    #[error("the record does not match the digest in helm's description")]
    DigestMismatch,
}

/// `<verb> secrets "gitlabrunner.settings.v1.<release>"`.
fn record_action(verb: Verb, namespace: &str, release: &str) -> Action {
    Action::new(verb, "secrets", "", namespace, secret_name(release))
}

/// A record failure as a [`KubeError`]: the client's errors classified (so transient ones are
/// retried), everything else permanent.
fn record_error(action: &Action, error: RecordError, attempts: u32) -> KubeError {
    match error {
        RecordError::Api(error) => classify(action, error, attempts),
        other => KubeError::Other {
            action: Box::new(action.clone()),
            message: other.to_string(),
        },
    }
}

impl From<kube::Error> for RecordError {
    fn from(error: kube::Error) -> RecordError {
        RecordError::Api(error)
    }
}

impl From<std::io::Error> for RecordError {
    fn from(error: std::io::Error) -> RecordError {
        RecordError::Io(error)
    }
}

/// The name of a release's record Secret.
pub fn secret_name(release: &str) -> String {
    format!("gitlabrunner.settings.v1.{release}")
}

/// The record for a revision applied from `config` (a wholly known configuration of the
/// release's schema).
pub fn encode(ty: &Type, config: &Value) -> Option<Settings> {
    encode_for(&super::schema::schema().block, ty, config)
}

fn encode_for(block: &Block, ty: &Type, config: &Value) -> Option<Settings> {
    let mut value = config.clone();
    if values_hold_credentials(&value)
        && let Some(slot) = value.at_mut(&AttributePath::new("values"))
    {
        // Import writes the record into state: never a credential there.
        *slot = Value::Null;
    }
    strip_unrecorded(block, &mut value);
    let json = json::encode(ty, &value).ok()?.to_string();
    let digest = hex::encode(Sha256::digest(json.as_bytes()));
    Some(Settings { json, digest })
}

/// Whether any `values` document holds something shaped or named like a credential.
fn values_hold_credentials(config: &Value) -> bool {
    config
        .attr("values")
        .and_then(Value::as_elements)
        .is_some_and(|documents| {
            documents.iter().filter_map(Value::as_str).any(|yaml| {
                gitlab_runner_chart::values::parse_user_values(yaml)
                    .map(|map| {
                        !gitlab_runner_chart::scan_for_credentials(&serde_json::Value::Object(map))
                            .is_empty()
                    })
                    .unwrap_or(true)
            })
        })
}

/// The recorded attributes for a revision with `description`: from the record Secret when the
/// description names a digest, from the description itself for releases installed by older
/// versions of the provider. `None` (logged) when there is no record or it cannot be used.
/// Transient API errors are retried within `budget`.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    ty: &Type,
    description: Option<&str>,
    budget: &Budget,
) -> Option<Value> {
    let text = description?.strip_prefix(PREFIX)?;
    let Some(digest) = text.strip_prefix(DIGEST_PREFIX) else {
        return decode_json(ty, text);
    };
    let action = record_action(Verb::Get, namespace, release);
    let read = budget
        .retry_classified(
            &action,
            || read_secret(client, namespace, release, digest),
            |error, attempts| record_error(&action, error, attempts),
        )
        .await;
    match read {
        Ok(json) => decode_json(ty, &json),
        Err(error) => {
            tracing::warn!(release, namespace, %error, "the settings record cannot be restored");
            None
        }
    }
}

async fn read_secret(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    digest: &str,
) -> Result<String, RecordError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get(&secret_name(release)).await?;
    let compressed = secret
        .data
        .as_ref()
        .and_then(|data| data.get(DATA_KEY))
        .ok_or(RecordError::NoData)?;
    let json = decompress(&compressed.0)?;
    if hex::encode(Sha256::digest(json.as_bytes())) != digest {
        return Err(RecordError::DigestMismatch);
    }
    Ok(json)
}

/// gunzip, refusing more than [`MAX_RECORD_BYTES`].
fn decompress(bytes: &[u8]) -> Result<String, RecordError> {
    let mut json = String::new();
    let read = GzDecoder::new(bytes)
        .take(MAX_RECORD_BYTES + 1)
        .read_to_string(&mut json)?;
    if read as u64 > MAX_RECORD_BYTES {
        return Err(RecordError::TooLarge);
    }
    Ok(json)
}

/// The recorded attributes of a record's JSON, when it is a record of this schema.
fn decode_json(ty: &Type, text: &str) -> Option<Value> {
    let parsed: serde_json::Value = serde_json::from_str(text).ok()?;
    json::decode(ty, &parsed, json::UnknownAttributes::Drop)
        .ok()
        .map(|(value, _)| value)
}

/// Sets every top-level attribute `recorded` holds (non-null) in `state`.
pub fn restore_into(state: &mut Value, recorded: &Value) {
    restore_for(&super::schema::schema().block, state, recorded);
}

fn restore_for(block: &Block, state: &mut Value, recorded: &Value) {
    let mut recorded = recorded.clone();
    // A record written by another version holds only what it recorded; what this version does
    // not record (results, secrets) is never restored from it either.
    strip_unrecorded(block, &mut recorded);
    let Some(entries) = recorded.as_entries() else {
        return;
    };
    for (name, value) in entries {
        if value.is_null() {
            continue;
        }
        if let Some(slot) = state.at_mut(&AttributePath::new(name.clone())) {
            *slot = value.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kube_test_server::TestCluster;
    use tfplugin::CancellationToken;

    use super::*;
    use crate::kube::test_cluster::{
        cluster_with_namespace, served, served_statuses, status_fault as fault,
    };

    const NAMESPACE: &str = "ci";

    async fn cluster() -> (TestCluster, kube::Client) {
        cluster_with_namespace(NAMESPACE).await
    }

    fn latest(release: &str, description: String) -> ReleaseRecord {
        ReleaseRecord {
            name: release.to_owned(),
            namespace: NAMESPACE.to_owned(),
            version: 1,
            status: helm_driver::ReleaseStatus::Deployed,
            chart_name: "gitlab-runner".into(),
            chart_version: "0.1.0".into(),
            app_version: None,
            config: serde_json::json!({}),
            manifest: String::new(),
            first_deployed: None,
            last_deployed: None,
            description: Some(description),
            apply_method: None,
        }
    }

    /// The record Secret is written and read through the operation's Budget: a 503 is asked
    /// again (and the call succeeds), a 403 is asked once.
    #[tokio::test]
    async fn the_record_secret_is_retried_on_a_503_and_asked_once_on_a_403() {
        let (cluster, client) = cluster().await;
        let admin = cluster.admin();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        for release in ["runner", "denied"] {
            let revision = Secret {
                metadata: ObjectMeta {
                    name: Some(format!("sh.helm.release.v1.{release}.v1")),
                    ..ObjectMeta::default()
                },
                ..Secret::default()
            };
            secrets
                .create(&kube::api::PostParams::default(), &revision)
                .await
                .expect("the revision Secret is created");
        }
        let ty = Type::object([("name", Type::String)]);
        let config = Value::object([("name", Value::from("runner"))]);
        let settings = encode_for(&Block::default(), &ty, &config).expect("a record");
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        let owner = format!("/api/v1/namespaces/{NAMESPACE}/secrets/sh.helm.release.v1.*.v1");
        let record = format!("/api/v1/namespaces/{NAMESPACE}/secrets/gitlabrunner.settings.v1.*");

        admin.clear_requests().unwrap();
        admin
            .inject_fault(&fault("GET", owner.clone(), 503))
            .unwrap();
        admin
            .inject_fault(&fault("PATCH", record.clone(), 503))
            .unwrap();
        settings
            .store(
                &client,
                NAMESPACE,
                "runner",
                &latest("runner", settings.description()),
                &budget,
            )
            .await;
        let served = served(&admin);
        assert_eq!(
            served,
            [
                ("GET".to_owned(), 503),
                ("GET".to_owned(), 200),
                ("PATCH".to_owned(), 503),
                ("GET".to_owned(), 200),
                ("PATCH".to_owned(), 201),
            ],
            "the store is retried whole after each 503"
        );

        admin.clear_requests().unwrap();
        admin
            .inject_fault(&fault("GET", record.clone(), 503))
            .unwrap();
        let description = settings.description();
        let loaded = load(
            &client,
            NAMESPACE,
            "runner",
            &ty,
            Some(description.as_str()),
            &budget,
        )
        .await;
        assert!(loaded.is_some());
        assert_eq!(loaded, decode(&ty, &description, &settings));
        let statuses = served_statuses(&admin);
        assert_eq!(statuses, [503, 200], "the load is retried after a 503");

        admin.clear_requests().unwrap();
        admin.inject_fault(&fault("GET", owner, 403)).unwrap();
        settings
            .store(
                &client,
                NAMESPACE,
                "denied",
                &latest("denied", settings.description()),
                &budget,
            )
            .await;
        let statuses = served_statuses(&admin);
        assert_eq!(statuses, [403], "a 403 is asked once");
        assert!(
            secrets
                .get_opt(&secret_name("denied"))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_record_error_says_its_cause_once() {
        let error = RecordError::from(std::io::Error::other("corrupt deflate stream"));
        assert_eq!(error.to_string(), "compression: corrupt deflate stream");
        assert!(std::error::Error::source(&error).is_none());
    }

    /// The attributes a description carries, without a cluster: the inline (older) form, or
    /// the JSON a digest names.
    fn decode(ty: &Type, description: &str, settings: &Settings) -> Option<Value> {
        let text = description.strip_prefix(PREFIX)?;
        match text.strip_prefix(DIGEST_PREFIX) {
            Some(digest) if digest == settings.digest => decode_json(ty, &settings.json),
            Some(_) => None,
            None => decode_json(ty, text),
        }
    }

    #[test]
    fn records_round_trip_without_secrets_or_results() {
        let ty = Type::object([
            ("name", Type::String),
            ("repository_password", Type::String),
            ("revision", Type::Number),
            ("concurrent", Type::Number),
        ]);
        let config = Value::object([
            ("name", Value::from("runner")),
            ("repository_password", Value::from("hunter2")),
            ("revision", Value::from(3_i64)),
            ("concurrent", Value::from(4_i64)),
        ]);
        let settings = encode(&ty, &config).unwrap();
        let description = settings.description();
        assert!(!settings.json.contains("hunter2"));
        let recorded = decode(&ty, &description, &settings).unwrap();
        let mut state = Value::object([
            ("name", Value::from("runner")),
            ("repository_password", Value::Null),
            ("revision", Value::from(5_i64)),
            ("concurrent", Value::Null),
        ]);
        restore_into(&mut state, &recorded);
        assert_eq!(state.attr("concurrent"), Some(&Value::from(4_i64)));
        assert_eq!(state.attr("revision"), Some(&Value::from(5_i64)));
        assert_eq!(state.attr("repository_password"), Some(&Value::Null));
        assert!(decode(&ty, "Upgrade complete", &settings).is_none());
    }

    #[test]
    fn the_description_is_a_short_digest_without_content() {
        let ty = Type::object([("runner_config_toml", Type::String)]);
        let big = format!(
            "[[runners]]\n  pre_build_script = \"{}\"\n",
            "x".repeat(300 * 1024)
        );
        let settings = encode(
            &ty,
            &Value::object([("runner_config_toml", Value::from(big))]),
        )
        .unwrap();
        let description = settings.description();
        assert_eq!(description.len(), PREFIX.len() + DIGEST_PREFIX.len() + 64);
        assert!(!description.contains("runners"), "{description}");
        let other = encode(
            &ty,
            &Value::object([("runner_config_toml", Value::from("a"))]),
        )
        .unwrap();
        assert_ne!(other.description(), description);
    }

    #[test]
    fn descriptions_of_older_versions_still_decode() {
        let ty = Type::object([("name", Type::String), ("concurrent", Type::Number)]);
        let settings = encode(&ty, &Value::object([("name", Value::from("x"))])).unwrap();
        let legacy = format!("{PREFIX}{{\"name\":\"runner\",\"concurrent\":4}}");
        let recorded = decode(&ty, &legacy, &settings).unwrap();
        assert_eq!(recorded.attr("concurrent"), Some(&Value::from(4_i64)));
        assert!(
            decode(
                &ty,
                &format!("{PREFIX}sha256:{}", "0".repeat(64)),
                &settings
            )
            .is_none()
        );
    }

    #[test]
    fn decompression_is_capped() {
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        let chunk = vec![b' '; 1024 * 1024];
        for _ in 0..=MAX_RECORD_BYTES / (1024 * 1024) {
            gzip.write_all(&chunk).unwrap();
        }
        let bomb = gzip.finish().unwrap();
        assert!(matches!(decompress(&bomb), Err(RecordError::TooLarge)));
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        gzip.write_all(b"{}").unwrap();
        assert_eq!(decompress(&gzip.finish().unwrap()).unwrap(), "{}");
    }

    /// A value of `block` where every attribute holds a marker naming its path, and every
    /// nested block one element.
    fn filled(block: &Block, path: &str) -> Value {
        let attributes = block
            .attributes
            .keys()
            .map(|name| (name.clone(), Value::from(format!("MARK:{path}{name}"))));
        let blocks = block.blocks.iter().map(|(name, nested)| {
            let inner = filled(&nested.block, &format!("{path}{name}[0]."));
            (name.clone(), Value::List(vec![inner]))
        });
        Value::Object(attributes.chain(blocks).collect())
    }

    /// Checks `value` against `block`: secrets and results null, every other input kept.
    /// Returns how many sensitive or write-only attributes it saw.
    fn check_stripped(block: &Block, value: &Value, path: &str) -> usize {
        let mut secrets = 0;
        for (name, attribute) in &block.attributes {
            let slot = value.attr(name).unwrap_or(&Value::Null);
            if attribute.sensitive || attribute.write_only {
                secrets += 1;
                assert!(slot.is_null(), "secret {path}{name} would be recorded");
            } else if attribute.required || attribute.optional {
                assert!(!slot.is_null(), "input {path}{name} would not be recorded");
            } else {
                assert!(slot.is_null(), "result {path}{name} would be recorded");
            }
        }
        for (name, nested) in &block.blocks {
            let inner = value
                .attr(name)
                .and_then(Value::as_elements)
                .and_then(<[Value]>::first)
                .unwrap_or_else(|| panic!("block {path}{name} would not be recorded"));
            secrets += check_stripped(&nested.block, inner, &format!("{path}{name}[0]."));
        }
        secrets
    }

    #[test]
    fn no_sensitive_or_write_only_attribute_of_the_schema_is_recorded() {
        // Derived from the schema itself: a new sensitive attribute (at any depth) is covered
        // without being listed anywhere.
        let block = crate::resources::release::schema::schema().block;
        let mut value = filled(&block, "");
        strip_unrecorded(&block, &mut value);
        let secrets = check_stripped(&block, &value, "");
        assert!(
            secrets >= 2,
            "the schema's secrets were not seen ({secrets})"
        );
    }

    #[test]
    fn a_sensitive_attribute_added_to_a_schema_is_left_out_of_the_record() {
        let block = Block::new()
            .attribute("name", Attribute::string().required())
            .attribute("api_key", Attribute::string().optional().sensitive())
            .block(
                "nested",
                tfplugin::NestedBlock::list(
                    Block::new()
                        .attribute("key", Attribute::string().optional().write_only())
                        .attribute("plain", Attribute::string().optional()),
                ),
            );
        let ty = block.value_type();
        let config = Value::object([
            ("name", Value::from("runner")),
            ("api_key", Value::from("hunter2-top")),
            (
                "nested",
                Value::List(vec![Value::object([
                    ("key", Value::from("hunter2-nested")),
                    ("plain", Value::from("kept")),
                ])]),
            ),
        ]);
        let settings = encode_for(&block, &ty, &config).unwrap();
        assert!(!settings.json.contains("hunter2"), "{}", settings.json);
        assert!(settings.json.contains("kept"), "{}", settings.json);
    }

    #[test]
    fn the_release_schema_secrets_never_reach_the_record_json() {
        let schema = crate::resources::release::schema::schema();
        let ty = schema.value_type();
        let mut config = Value::null_object(&ty);
        let mut secrets = Vec::new();
        for (name, attribute) in &schema.block.attributes {
            if (attribute.sensitive || attribute.write_only)
                && attribute.value_type() == Type::String
            {
                let marker = format!("hunter2-{name}");
                if let Some(slot) = config.at_mut(&AttributePath::new(name.clone())) {
                    *slot = Value::from(marker.clone());
                }
                secrets.push(marker);
            }
        }
        assert!(!secrets.is_empty());
        let settings = encode(&ty, &config).unwrap();
        for marker in secrets {
            assert!(!settings.json.contains(&marker), "{marker} recorded");
        }
    }

    #[test]
    fn values_with_credentials_are_not_recorded() {
        let ty = Type::object([("values", Type::list(Type::String))]);
        let with = Value::object([(
            "values",
            Value::List(vec![Value::from("password: hunter2-secret\n")]),
        )]);
        let settings = encode(&ty, &with).unwrap();
        assert!(!settings.json.contains("hunter2"), "{settings:?}");
        let without = Value::object([(
            "values",
            Value::List(vec![Value::from("metrics:\n  enabled: true\n")]),
        )]);
        assert!(encode(&ty, &without).unwrap().json.contains("metrics"));
    }

    /// A record an older version wrote under its own field manager is taken over by
    /// [`FIELD_MANAGER`] on the next write: no conflict, and only one manager afterwards.
    #[tokio::test]
    async fn a_record_written_under_the_old_field_manager_is_taken_over() {
        let (_cluster, client) = cluster().await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        let revision = Secret {
            metadata: ObjectMeta {
                name: Some("sh.helm.release.v1.runner.v1".into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        };
        let owner = secrets
            .create(&kube::api::PostParams::default(), &revision)
            .await
            .expect("the revision Secret is created");
        let ty = Type::object([("name", Type::String)]);
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        let old = encode_for(
            &Block::default(),
            &ty,
            &Value::object([("name", Value::from("before"))]),
        )
        .expect("a record");
        let new = encode_for(
            &Block::default(),
            &ty,
            &Value::object([("name", Value::from("runner"))]),
        )
        .expect("a record");
        let managers = |secret: &Secret| -> Vec<String> {
            secret
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .filter_map(|entry| entry.manager.clone())
                .collect()
        };

        // What an older version wrote: the record Secret, applied as its own field manager.
        let legacy = old
            .record_secret(NAMESPACE, "runner", owner)
            .expect("a record Secret");
        secrets
            .patch(
                &secret_name("runner"),
                &PatchParams::apply(LEGACY_FIELD_MANAGER).force(),
                &Patch::Apply(&legacy),
            )
            .await
            .expect("the old record is written");
        let before = secrets.get(&secret_name("runner")).await.unwrap();
        assert_eq!(managers(&before), [LEGACY_FIELD_MANAGER]);

        new.store(
            &client,
            NAMESPACE,
            "runner",
            &latest("runner", new.description()),
            &budget,
        )
        .await;

        let after = secrets.get(&secret_name("runner")).await.unwrap();
        assert_eq!(managers(&after), [FIELD_MANAGER]);
        let digest = after
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("gitlabrunner.io/settings-digest"));
        assert_eq!(digest, Some(&new.digest), "the new record was written");
    }
}
