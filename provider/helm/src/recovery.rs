//! Opt-in recovery of a release stuck in `pending-install` / `pending-upgrade` /
//! `pending-rollback` (helm was killed, or could not record the outcome): the newest revision is
//! marked `failed`, in its Secret label and in the record itself, so the next
//! `helm upgrade --install` proceeds instead of answering "another operation is in progress".
//! The write is conditional on the Secret's resourceVersion.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::release::{ReleaseReadError, ReleaseStatus, read_release_history};

/// What [`mark_pending_release_failed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The release does not exist.
    NoRelease,
    /// The newest revision was not pending; nothing was changed.
    NotPending { version: u64, status: ReleaseStatus },
    /// The newest revision (this version, formerly this status) is now `failed`.
    MarkedFailed {
        version: u64,
        previous: ReleaseStatus,
    },
}

/// Why a recovery failed. Nothing is retried here: an API failure keeps the client's error in
/// `cause` (its message is already part of `reason`, so it is not also the `source()`) for the
/// caller's retry policy to classify — the rewrite is guarded by the `resourceVersion` it read,
/// so repeating the whole call is safe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    #[error("could not read release {release:?} in namespace {namespace:?}: {reason}")]
    Read {
        namespace: String,
        release: String,
        reason: String,
        /// The client's error, when the API answered or could not be reached.
        cause: Option<Box<kube::Error>>,
    },
    #[error("could not rewrite the release record {secret}: {reason}")]
    Rewrite {
        secret: String,
        reason: String,
        /// The client's error, when the API answered or could not be reached.
        cause: Option<Box<kube::Error>>,
    },
}

impl RecoveryError {
    /// The client's error, when the failure was the API's.
    pub fn api_error(&self) -> Option<&kube::Error> {
        match self {
            RecoveryError::Read { cause, .. } | RecoveryError::Rewrite { cause, .. } => {
                cause.as_deref()
            }
        }
    }
}

/// Marks the newest revision of `release` as `failed` if (and only if) it is `pending-*`.
pub async fn mark_pending_release_failed(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    reason: &str,
) -> Result<Recovery, RecoveryError> {
    let Some(history) = read_release_history(client, namespace, release)
        .await
        .map_err(|error| {
            let reason = error.to_string();
            RecoveryError::Read {
                namespace: namespace.to_string(),
                release: release.to_string(),
                reason,
                cause: match error {
                    ReleaseReadError::Api { cause, .. } => Some(cause),
                    _ => None,
                },
            }
        })?
    else {
        return Ok(Recovery::NoRelease);
    };
    let newest = history
        .revisions
        .first()
        .map(|r| (r.version, r.secret_name.clone()));
    let Some((version, secret_name)) = newest else {
        return Ok(Recovery::NoRelease);
    };
    let previous = history.latest.status.clone();
    if !previous.is_pending() {
        return Ok(Recovery::NotPending {
            version,
            status: previous,
        });
    }
    let rewrite_error = |reason: String| RecoveryError::Rewrite {
        secret: secret_name.clone(),
        reason,
        cause: None,
    };
    let api_error = |error: kube::Error| RecoveryError::Rewrite {
        secret: secret_name.clone(),
        reason: error.to_string(),
        cause: Some(Box::new(error)),
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secret = api.get(&secret_name).await.map_err(api_error)?;
    let payload = secret
        .data
        .as_ref()
        .and_then(|data| data.get("release"))
        .ok_or_else(|| rewrite_error("no data.release".to_string()))?;
    let rewritten = mark_payload_failed(&payload.0, reason).map_err(rewrite_error)?;
    secret
        .data
        .get_or_insert_with(Default::default)
        .insert("release".to_string(), ByteString(rewritten));
    secret
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("status".to_string(), "failed".to_string());
    // `replace` sends the resourceVersion we read: a concurrent change makes this fail (409).
    api.replace(&secret_name, &PostParams::default(), &secret)
        .await
        .map_err(api_error)?;
    Ok(Recovery::MarkedFailed { version, previous })
}

/// Rewrites a release payload (base64(gzip(json))) with `info.status = "failed"` and the given
/// description, keeping every other field as it was.
pub fn mark_payload_failed(payload: &[u8], description: &str) -> Result<Vec<u8>, String> {
    let ascii: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let compressed = STANDARD
        .decode(ascii)
        .map_err(|e| format!("not base64: {e}"))?;
    let mut json = Vec::new();
    if compressed.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut json)
            .map_err(|e| format!("not gzip: {e}"))?;
    } else {
        json = compressed;
    }
    let mut record: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))?;
    let info = record
        .get_mut("info")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| "the record has no info".to_string())?;
    info.insert("status".into(), "failed".into());
    info.insert("description".into(), description.into());
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(record.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let compressed = gzip.finish().map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(compressed).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::decode_release_payload;

    fn payload(json: &serde_json::Value) -> Vec<u8> {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(json.to_string().as_bytes()).unwrap();
        STANDARD.encode(gzip.finish().unwrap()).into_bytes()
    }

    #[test]
    fn marking_failed_keeps_everything_else() {
        let original = serde_json::json!({
            "name": "r", "namespace": "ci", "version": 2, "manifest": "m", "config": {"a": 1},
            "info": {"status": "pending-upgrade", "description": "Preparing upgrade", "first_deployed": "t0"},
            "chart": {"metadata": {"name": "c", "version": "1.0.0"}}, "apply_method": "ssa"
        });
        let rewritten = mark_payload_failed(&payload(&original), "stuck; marked failed").unwrap();
        let record = decode_release_payload(&rewritten).unwrap();
        assert_eq!(record.status, ReleaseStatus::Failed);
        assert_eq!(record.description.as_deref(), Some("stuck; marked failed"));
        assert_eq!(
            (
                record.version,
                record.manifest.as_str(),
                record.first_deployed.as_deref()
            ),
            (2, "m", Some("t0"))
        );
        assert_eq!(record.config, serde_json::json!({"a": 1}));
        assert_eq!(record.apply_method.as_deref(), Some("ssa"));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(mark_payload_failed(b"???", "x").is_err());
        assert!(mark_payload_failed(&payload(&serde_json::json!({"name": "r"})), "x").is_err());
    }
}
