//! Native reading of helm's release records (Secret storage driver, the default): no helm
//! process, one list request.
//!
//! Storage: Secrets named `sh.helm.release.v1.<release>.v<revision>` labelled `owner=helm`,
//! `name=<release>`, `version=<revision>`, `status=<status>`. `data.release` holds the ASCII
//! string base64(gzip(JSON)); the API's JSON base64-encodes those bytes once more, which the
//! client undoes, so the bytes we get are base64(gzip(json)).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use serde::Deserialize;

/// A release's status as helm records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseStatus {
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    /// A status this crate does not know (a newer helm).
    Other(String),
}

impl ReleaseStatus {
    pub fn parse(text: &str) -> Self {
        match text {
            "unknown" | "" => Self::Unknown,
            "deployed" => Self::Deployed,
            "uninstalled" => Self::Uninstalled,
            "superseded" => Self::Superseded,
            "failed" => Self::Failed,
            "uninstalling" => Self::Uninstalling,
            "pending-install" => Self::PendingInstall,
            "pending-upgrade" => Self::PendingUpgrade,
            "pending-rollback" => Self::PendingRollback,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown => "unknown",
            Self::Deployed => "deployed",
            Self::Uninstalled => "uninstalled",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
            Self::Uninstalling => "uninstalling",
            Self::PendingInstall => "pending-install",
            Self::PendingUpgrade => "pending-upgrade",
            Self::PendingRollback => "pending-rollback",
            Self::Other(other) => other,
        }
    }

    /// `pending-install`, `pending-upgrade` or `pending-rollback`: an operation is (or was, if
    /// helm was killed) in progress, and helm refuses new ones.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::PendingInstall | Self::PendingUpgrade | Self::PendingRollback
        )
    }
}

impl fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded newest revision of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRecord {
    pub name: String,
    pub namespace: String,
    pub version: u64,
    pub status: ReleaseStatus,
    pub chart_name: String,
    pub chart_version: String,
    pub app_version: Option<String>,
    /// The user-supplied values (`helm get values`), `{}` when none.
    pub config: serde_json::Value,
    /// The rendered manifest (`helm get manifest`).
    pub manifest: String,
    /// RFC 3339 timestamps as helm wrote them.
    pub first_deployed: Option<String>,
    pub last_deployed: Option<String>,
    pub description: Option<String>,
    /// helm 4: `"ssa"` for server-side apply; absent for client-side apply and helm 3.
    pub apply_method: Option<String>,
}

/// One revision as its Secret's labels describe it (no payload decoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionSummary {
    pub version: u64,
    pub status: ReleaseStatus,
    pub secret_name: String,
}

/// The newest revision decoded, plus every revision's label summary (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseHistory {
    pub latest: ReleaseRecord,
    pub revisions: Vec<RevisionSummary>,
}

impl ReleaseHistory {
    /// The newest revision whose status is `deployed`, if any.
    pub fn last_deployed_revision(&self) -> Option<u64> {
        self.revisions
            .iter()
            .find(|r| r.status == ReleaseStatus::Deployed)
            .map(|r| r.version)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseReadError {
    #[error(
        "could not list helm release Secrets for {release:?} in namespace {namespace:?}: {cause}"
    )]
    Api {
        namespace: String,
        release: String,
        /// The client's error, kept whole so the caller can classify it (retry or not).
        cause: Box<kube::Error>,
    },

    #[error("helm release Secret {secret} could not be decoded: {reason}")]
    Decode { secret: String, reason: String },
}

/// Decoding failures of a release payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("the Secret has no data.release")]
    MissingPayload,
    #[error("data.release is not base64: {0}")]
    Base64(String),
    #[error("data.release is not valid gzip: {0}")]
    Gzip(String),
    #[error("the release JSON is invalid: {0}")]
    Json(String),
    #[error(
        "the release record is larger than {} MiB once decompressed (the provider's limit for a helm release record); it was not read any further",
        .limit / (1024 * 1024)
    )]
    TooLarge { limit: u64 },
}

#[derive(Deserialize)]
struct RawRelease {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    info: RawInfo,
    #[serde(default)]
    chart: RawChart,
    #[serde(default)]
    config: serde_json::Value,
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    apply_method: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawInfo {
    first_deployed: Option<String>,
    last_deployed: Option<String>,
    description: Option<String>,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize, Default)]
struct RawChart {
    #[serde(default)]
    metadata: RawChartMetadata,
}

#[derive(Deserialize, Default)]
struct RawChartMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(rename = "appVersion")]
    app_version: Option<String>,
}

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The most bytes a release record may decompress to. A Secret holds at most 1 MiB, but gzip
/// expands up to ~1000×; helm's own records of the gitlab-runner chart are well under 1 MiB.
pub const MAX_RELEASE_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// Decodes the bytes of a release Secret's `data.release` (as a Kubernetes client returns them:
/// the ASCII base64 of gzip(JSON); plain JSON without gzip is accepted too, as helm does).
pub fn decode_release_payload(bytes: &[u8]) -> Result<ReleaseRecord, DecodeError> {
    decode_release_payload_within(bytes, MAX_RELEASE_JSON_BYTES)
}

/// [`decode_release_payload`] with a decompressed-size limit other than
/// [`MAX_RELEASE_JSON_BYTES`].
pub fn decode_release_payload_within(
    bytes: &[u8],
    limit: u64,
) -> Result<ReleaseRecord, DecodeError> {
    // Whitespace (line breaks) is rare: copy only when there is some.
    let ascii: Cow<'_, [u8]> = if bytes.iter().any(u8::is_ascii_whitespace) {
        Cow::Owned(
            bytes
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        )
    } else {
        Cow::Borrowed(bytes)
    };
    let decoded = STANDARD
        .decode(&ascii)
        .map_err(|error| DecodeError::Base64(error.to_string()))?;
    let json = if decoded.starts_with(&GZIP_MAGIC) {
        // One byte over the limit tells "too large" from "exactly at the limit". The buffer
        // starts at the size gzip's trailer announces (within the limit), not growing from 0.
        let mut text = Vec::with_capacity(announced_size(&decoded, limit));
        flate2::read::GzDecoder::new(decoded.as_slice())
            .take(limit.saturating_add(1))
            .read_to_end(&mut text)
            .map_err(|error| DecodeError::Gzip(error.to_string()))?;
        text
    } else {
        decoded
    };
    if json.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    let raw: RawRelease =
        serde_json::from_slice(&json).map_err(|error| DecodeError::Json(error.to_string()))?;
    Ok(ReleaseRecord {
        name: raw.name,
        namespace: raw.namespace,
        version: raw.version,
        status: ReleaseStatus::parse(&raw.info.status),
        chart_name: raw.chart.metadata.name,
        chart_version: raw.chart.metadata.version,
        app_version: raw.chart.metadata.app_version.filter(|v| !v.is_empty()),
        config: match raw.config {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            other => other,
        },
        manifest: raw.manifest,
        first_deployed: raw.info.first_deployed,
        last_deployed: raw.info.last_deployed,
        description: raw.info.description.filter(|d| !d.is_empty()),
        apply_method: raw.apply_method.filter(|m| !m.is_empty()),
    })
}

/// The uncompressed size a gzip stream's trailer announces (ISIZE, the size modulo 2^32 of its
/// last member), capped at `limit + 1` and [`MAX_PRESIZE`]: a starting capacity only, never
/// trusted for anything.
pub(crate) fn announced_size(gzip: &[u8], limit: u64) -> usize {
    let announced = gzip
        .len()
        .checked_sub(4)
        .and_then(|start| gzip.get(start..))
        .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
        .map_or(0, u32::from_le_bytes);
    usize::try_from(
        u64::from(announced)
            .min(limit.saturating_add(1))
            .min(MAX_PRESIZE),
    )
    .unwrap_or(0)
}

/// The largest buffer reserved up front for a record's JSON (a larger one grows as it is read).
const MAX_PRESIZE: u64 = 8 * 1024 * 1024;

/// What reading a release needs of one of its Secrets: a full [`Secret`], or a [`ListedRecord`]
/// from a refresh's shared listing.
pub trait ReleaseSecret {
    /// `metadata.name` (empty when missing).
    fn secret_name(&self) -> &str;
    /// The value of label `key`.
    fn label(&self, key: &str) -> Option<&str>;
    /// The bytes of `data.release` (helm's own base64 of gzip(JSON)).
    fn payload(&self) -> Result<Cow<'_, [u8]>, DecodeError>;
}

impl ReleaseSecret for Secret {
    fn secret_name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    fn payload(&self) -> Result<Cow<'_, [u8]>, DecodeError> {
        self.data
            .as_ref()
            .and_then(|data| data.get("release"))
            .map(|payload| Cow::Borrowed(payload.0.as_slice()))
            .ok_or(DecodeError::MissingPayload)
    }
}

/// A release Secret as a LIST answer carries it, kept light: name, labels and `data.release`
/// still in the API's base64, decoded only for the revision that is read (a namespace's listing
/// holds every revision of every release; most are never decoded).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListedRecord {
    #[serde(default)]
    metadata: ListedMetadata,
    #[serde(default)]
    data: ListedData,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ListedMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Clone, Default, Deserialize)]
struct ListedData {
    release: Option<String>,
}

/// The payload holds the release's values (which may carry credentials): shown by size only.
impl fmt::Debug for ListedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListedData")
            .field("release_bytes", &self.release.as_ref().map(String::len))
            .finish()
    }
}

impl ReleaseSecret for ListedRecord {
    fn secret_name(&self) -> &str {
        &self.metadata.name
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.get(key).map(String::as_str)
    }

    fn payload(&self) -> Result<Cow<'_, [u8]>, DecodeError> {
        let encoded = self
            .data
            .release
            .as_deref()
            .ok_or(DecodeError::MissingPayload)?;
        STANDARD
            .decode(encoded)
            .map(Cow::Owned)
            .map_err(|error| DecodeError::Base64(error.to_string()))
    }
}

/// Decodes a release Secret.
pub fn decode_release_secret(secret: &impl ReleaseSecret) -> Result<ReleaseRecord, DecodeError> {
    decode_release_payload(&secret.payload()?)
}

/// The revision number of a release Secret: its `version` label, else the `.vN` name suffix.
pub fn revision_of(secret: &impl ReleaseSecret) -> Option<u64> {
    secret
        .label("version")
        .and_then(|v| v.parse().ok())
        .or_else(|| secret.secret_name().rsplit_once(".v")?.1.parse().ok())
}

/// The label selector helm itself uses for one release's records.
pub fn release_selector(release: &str) -> String {
    format!("owner=helm,name={release}")
}

/// Picks the newest revision among release Secrets and decodes it; `Ok(None)` when there are
/// none. Pure: used by [`read_release_history`] and by tests.
pub fn newest_release(secrets: &[Secret]) -> Result<Option<ReleaseHistory>, ReleaseReadError> {
    newest_release_of(secrets)
}

/// [`newest_release`] over borrowed Secrets (e.g. the ones of one release picked out of a
/// namespace's listing), without copying them.
pub fn newest_release_of<'a, S: ReleaseSecret + 'a>(
    secrets: impl IntoIterator<Item = &'a S>,
) -> Result<Option<ReleaseHistory>, ReleaseReadError> {
    let mut revisions: Vec<(u64, &S)> = secrets
        .into_iter()
        .filter_map(|secret| revision_of(secret).map(|version| (version, secret)))
        .collect();
    revisions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let Some((_, newest)) = revisions.first() else {
        return Ok(None);
    };
    let latest = decode_release_secret(*newest).map_err(|error| ReleaseReadError::Decode {
        secret: newest.secret_name().to_owned(),
        reason: error.to_string(),
    })?;
    let summaries = revisions
        .iter()
        .map(|(version, secret)| RevisionSummary {
            version: *version,
            status: ReleaseStatus::parse(secret.label("status").unwrap_or_default()),
            secret_name: secret.secret_name().to_owned(),
        })
        .collect();
    Ok(Some(ReleaseHistory {
        latest,
        revisions: summaries,
    }))
}

/// Lists the release's Secrets (one request) and decodes the newest. `Ok(None)` only when no
/// release Secret exists; any API failure is an error.
pub async fn read_release_history(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Option<ReleaseHistory>, ReleaseReadError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default().labels(&release_selector(release)))
        .await
        .map_err(|error| ReleaseReadError::Api {
            namespace: namespace.to_string(),
            release: release.to_string(),
            cause: Box::new(error),
        })?;
    newest_release(&list.items)
}

/// [`read_release_history`] without the revision summaries.
pub async fn read_latest_release(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Option<ReleaseRecord>, ReleaseReadError> {
    Ok(read_release_history(client, namespace, release)
        .await?
        .map(|history| history.latest))
}
