//! `PUT`/`GET`/`HEAD`/`DELETE /v2/<name>/manifests/<reference>`.

use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::{ErrorCode, OciError};
use crate::http::{Body, empty, header, read_body, respond, set_header};
use crate::reference::{Algorithm, Digest, Reference};
use crate::store::{Store, StoredManifest};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifests larger than this are refused (the spec asks registries to accept at least 4 MiB).
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

/// The media type without parameters.
fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or("").trim()
}

/// The digest of a descriptor field, checked for shape.
fn descriptor_digest(descriptor: &Value, field: &str) -> Result<String, OciError> {
    let raw = descriptor
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| OciError::manifest_invalid(format!("{field} has no digest")))?;
    let digest: Digest = raw.parse().map_err(|_| {
        OciError::manifest_invalid(format!("{field} has an invalid digest {raw:?}"))
    })?;
    Ok(digest.to_string())
}

fn blob_missing(digest: &str) -> OciError {
    OciError::new(
        400,
        ErrorCode::ManifestBlobUnknown,
        "blob unknown to registry",
    )
    .with_detail(json!({ "digest": digest }))
}

/// The digests a manifest refers to: blobs for image manifests, manifests for indexes.
fn check_references(
    store: &Store,
    name: &str,
    media_type: &str,
    body: &Map<String, Value>,
) -> Result<(), OciError> {
    match media_type {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = body
                .get("config")
                .ok_or_else(|| OciError::manifest_invalid("the manifest has no config"))?;
            let layers = match body.get("layers") {
                Some(Value::Array(layers)) => layers.as_slice(),
                None => &[],
                Some(_) => return Err(OciError::manifest_invalid("layers is not an array")),
            };
            let mut digests = vec![descriptor_digest(config, "config")?];
            for (i, layer) in layers.iter().enumerate() {
                digests.push(descriptor_digest(layer, &format!("layers[{i}]"))?);
            }
            match digests.iter().find(|d| store.blob(name, d).is_none()) {
                Some(missing) => Err(blob_missing(missing)),
                None => Ok(()),
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            let manifests = match body.get("manifests") {
                Some(Value::Array(m)) => m.as_slice(),
                _ => {
                    return Err(OciError::manifest_invalid(
                        "the index has no manifests array",
                    ));
                }
            };
            for (i, child) in manifests.iter().enumerate() {
                let digest = descriptor_digest(child, &format!("manifests[{i}]"))?;
                if !store.has_manifest(name, &digest) {
                    return Err(blob_missing(&digest));
                }
            }
            Ok(())
        }
        other => Err(OciError::manifest_invalid(format!(
            "unsupported manifest media type {other:?}"
        ))),
    }
}

/// `PUT`: stores the exact bytes under their digest, and the tag when the reference is one.
pub async fn put(
    ctx: &Context,
    name: &str,
    reference: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, OciError> {
    let reference = Reference::parse(reference)?;
    let content_type = header(&request, "content-type")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let bytes = read_body(request.into_body()).await?;
    if bytes.len() > MANIFEST_LIMIT {
        return Err(OciError::new(
            413,
            ErrorCode::SizeInvalid,
            format!("manifests are limited to {MANIFEST_LIMIT} bytes"),
        ));
    }
    let parsed: Value = serde_json::from_slice(&bytes)
        .map_err(|e| OciError::manifest_invalid(format!("the manifest is not JSON: {e}")))?;
    let Value::Object(body) = parsed else {
        return Err(OciError::manifest_invalid(
            "the manifest is not a JSON object",
        ));
    };
    let declared = body.get("mediaType").and_then(Value::as_str);
    let media_type = content_type
        .or_else(|| declared.map(str::to_string))
        .ok_or_else(|| OciError::manifest_invalid("neither Content-Type nor mediaType is set"))?;
    if let Some(declared) = declared
        && declared != essence(&media_type)
    {
        return Err(OciError::manifest_invalid(format!(
            "mediaType {declared:?} does not match Content-Type {media_type:?}"
        )));
    }
    if body.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(OciError::manifest_invalid("schemaVersion must be 2"));
    }
    let algorithm = match &reference {
        Reference::Digest(d) => d.algorithm(),
        Reference::Tag(_) => Algorithm::Sha256,
    };
    let digest = algorithm.digest(&bytes);
    if let Reference::Digest(expected) = &reference
        && expected != &digest
    {
        return Err(
            OciError::digest_invalid("provided digest did not match uploaded content").with_detail(
                json!({ "expected": expected.to_string(), "actual": digest.to_string() }),
            ),
        );
    }
    let digest = digest.to_string();
    let subject = match body.get("subject") {
        Some(s) => Some(descriptor_digest(s, "subject")?),
        None => None,
    };
    let artifact_type = body
        .get("artifactType")
        .and_then(Value::as_str)
        .or_else(|| {
            (essence(&media_type) == OCI_MANIFEST)
                .then(|| body.get("config")?.get("mediaType")?.as_str())
                .flatten()
        })
        .map(str::to_string);
    let manifest = StoredManifest {
        digest: digest.clone(),
        media_type: media_type.clone(),
        bytes,
        subject: subject.clone(),
        artifact_type,
        annotations: body.get("annotations").cloned(),
    };
    {
        let mut store = ctx.store()?;
        check_references(&store, name, essence(&media_type), &body)?;
        let tag = match &reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        store.put_manifest(name, manifest, tag);
    }
    let mut response = empty(201);
    set_header(
        &mut response,
        "location",
        &ctx.location(&format!("/v2/{name}/manifests/{digest}")),
    );
    set_header(&mut response, "docker-content-digest", &digest);
    if let Some(subject) = subject {
        set_header(&mut response, "oci-subject", &subject);
    }
    Ok(response)
}

/// `GET`/`HEAD` by tag or digest.
pub fn get(ctx: &Context, name: &str, reference: &str) -> Result<Response<Body>, OciError> {
    let reference = Reference::parse(reference)?.to_string();
    let store = ctx.store()?;
    let manifest = store
        .manifest(name, &reference)
        .ok_or_else(|| OciError::manifest_unknown(&reference))?;
    let mut response = respond(200, Some(&manifest.media_type), manifest.bytes.clone());
    set_header(&mut response, "docker-content-digest", &manifest.digest);
    Ok(response)
}

/// `DELETE` by digest (the manifest and every tag on it) or by tag (the tag only).
pub fn delete(ctx: &Context, name: &str, reference: &str) -> Result<Response<Body>, OciError> {
    let reference = Reference::parse(reference)?;
    let mut store = ctx.store()?;
    let repo = store.repositories.get_mut(name);
    let removed = match (&reference, repo) {
        (Reference::Digest(d), Some(repo)) => {
            let d = d.to_string();
            let found = repo.manifests.remove(&d).is_some();
            if found {
                repo.tags.retain(|_, target| *target != d);
            }
            found
        }
        (Reference::Tag(t), Some(repo)) => repo.tags.remove(t).is_some(),
        (_, None) => false,
    };
    if removed {
        Ok(empty(202))
    } else {
        Err(OciError::manifest_unknown(&reference.to_string()))
    }
}
