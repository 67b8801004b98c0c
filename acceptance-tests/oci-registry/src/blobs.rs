//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use hyper::Response;

use crate::context::Context;
use crate::error::OciError;
use crate::http::{Body, empty, respond, set_header};
use crate::reference::Digest;

/// Answers a blob fetch (the body is dropped by the server for `HEAD`).
pub fn get(ctx: &Context, name: &str, digest: &str) -> Result<Response<Body>, OciError> {
    let digest: Digest = digest.parse()?;
    let digest = digest.to_string();
    let bytes = ctx
        .store()?
        .blob(name, &digest)
        .ok_or_else(|| OciError::blob_unknown(&digest))?;
    let mut response = respond(200, Some("application/octet-stream"), bytes);
    set_header(&mut response, "docker-content-digest", &digest);
    Ok(response)
}

/// Unlinks a blob from the repository.
pub fn delete(ctx: &Context, name: &str, digest: &str) -> Result<Response<Body>, OciError> {
    let digest: Digest = digest.parse()?;
    let digest = digest.to_string();
    if !ctx.store()?.unlink_blob(name, &digest) {
        return Err(OciError::blob_unknown(&digest));
    }
    let mut response = empty(202);
    set_header(&mut response, "docker-content-digest", &digest);
    Ok(response)
}

/// The 201 answer for a blob that now exists in `name`.
pub fn created(ctx: &Context, name: &str, digest: &str) -> Response<Body> {
    let mut response = empty(201);
    set_header(
        &mut response,
        "location",
        &ctx.location(&format!("/v2/{name}/blobs/{digest}")),
    );
    set_header(&mut response, "docker-content-digest", digest);
    response
}
