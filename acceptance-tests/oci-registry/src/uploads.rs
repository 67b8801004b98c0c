//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic, or cross-repository
//! mount), then `PATCH`/`PUT`/`GET`/`DELETE /v2/<name>/blobs/uploads/<id>`.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::auth::Caller;
use crate::blobs;
use crate::context::Context;
use crate::error::{ErrorCode, OciError};
use crate::http::{Body, empty, header, last_value, parse_pairs, read_body, set_header};
use crate::reference::{Digest, validate_name};
use crate::store::Upload;

fn upload_path(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The `Range` header value for `len` received bytes (`0-0` when empty, as distribution does).
fn range(len: usize) -> String {
    format!("0-{}", len.saturating_sub(1))
}

/// The 202/204 answer describing a session's state.
fn session_response(
    ctx: &Context,
    status: u16,
    name: &str,
    id: &str,
    len: usize,
) -> Response<Body> {
    let mut response = empty(status);
    set_header(
        &mut response,
        "location",
        &ctx.location(&upload_path(name, id)),
    );
    set_header(&mut response, "range", &range(len));
    set_header(&mut response, "docker-upload-uuid", id);
    response
}

fn query_pairs(request: &Request<Incoming>) -> Vec<(String, String)> {
    parse_pairs(request.uri().query().unwrap_or(""))
}

/// Checks that `bytes` hash to `expected`.
fn verify(expected: &Digest, bytes: &[u8]) -> Result<(), OciError> {
    let actual = expected.algorithm().digest(bytes);
    if &actual == expected {
        Ok(())
    } else {
        Err(
            OciError::digest_invalid("provided digest did not match uploaded content").with_detail(
                serde_json::json!({
                    "expected": expected.to_string(),
                    "actual": actual.to_string(),
                }),
            ),
        )
    }
}

/// `POST /v2/<name>/blobs/uploads/`.
pub async fn start(
    ctx: &Context,
    caller: &Caller,
    name: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, OciError> {
    let pairs = query_pairs(&request);
    if let Some(mount) = last_value(&pairs, "mount") {
        let digest: Digest = mount.parse()?;
        let digest = digest.to_string();
        if let Some(from) = last_value(&pairs, "from") {
            validate_name(from)?;
            let mut store = ctx.store()?;
            if caller.can(from, "pull") && store.blob(from, &digest).is_some() {
                store.link_blob(name, &digest);
                return Ok(blobs::created(ctx, name, &digest));
            }
        }
        // Not mountable: fall back to a new upload session, as the spec requires.
    } else if let Some(digest) = last_value(&pairs, "digest") {
        let digest: Digest = digest.parse()?;
        let body = read_body(request.into_body()).await?;
        verify(&digest, &body)?;
        let digest = digest.to_string();
        ctx.store()?.put_blob(name, &digest, body);
        return Ok(blobs::created(ctx, name, &digest));
    }
    let id = uuid::Uuid::new_v4().to_string();
    ctx.store()?.uploads.insert(
        id.clone(),
        Upload {
            repository: name.to_string(),
            data: Vec::new(),
        },
    );
    Ok(session_response(ctx, 202, name, &id, 0))
}

/// Parses `Content-Range: <start>-<end>` (also accepting a `bytes=`/`bytes ` prefix and a
/// `/total` suffix).
fn parse_content_range(value: &str) -> Option<(usize, usize)> {
    let value = value.trim();
    let value = value
        .strip_prefix("bytes=")
        .or_else(|| value.strip_prefix("bytes "))
        .unwrap_or(value);
    let value = value.split('/').next()?;
    let (start, end) = value.split_once('-')?;
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?))
}

/// Checks a chunk's `Content-Range` against the bytes received so far.
fn check_chunk(
    ctx: &Context,
    name: &str,
    id: &str,
    received: usize,
    content_range: Option<&str>,
    chunk_len: usize,
) -> Result<(), OciError> {
    let Some(value) = content_range else {
        return Ok(());
    };
    let fits = parse_content_range(value).is_some_and(|(start, end)| {
        start == received && end >= start && end - start + 1 == chunk_len
    });
    if fits {
        return Ok(());
    }
    Err(OciError::new(
        416,
        ErrorCode::BlobUploadInvalid,
        format!("chunk range {value:?} does not continue the {received} bytes received"),
    )
    .with_header("location", ctx.location(&upload_path(name, id)))
    .with_header("range", range(received))
    .with_header("docker-upload-uuid", id.to_string()))
}

fn session_of<'a>(
    uploads: &'a mut std::collections::HashMap<String, Upload>,
    name: &str,
    id: &str,
) -> Result<&'a mut Upload, OciError> {
    uploads
        .get_mut(id)
        .filter(|u| u.repository == name)
        .ok_or_else(|| OciError::upload_unknown(id))
}

/// `PATCH`: appends a chunk.
pub async fn patch(
    ctx: &Context,
    name: &str,
    id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, OciError> {
    session_of(&mut ctx.store()?.uploads, name, id)?;
    let content_range = header(&request, "content-range").map(str::to_string);
    let chunk = read_body(request.into_body()).await?;
    let mut store = ctx.store()?;
    let upload = session_of(&mut store.uploads, name, id)?;
    check_chunk(
        ctx,
        name,
        id,
        upload.data.len(),
        content_range.as_deref(),
        chunk.len(),
    )?;
    upload.data.extend_from_slice(&chunk);
    Ok(session_response(ctx, 202, name, id, upload.data.len()))
}

/// `PUT ?digest=`: completes the upload with an optional last chunk.
pub async fn put(
    ctx: &Context,
    name: &str,
    id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, OciError> {
    session_of(&mut ctx.store()?.uploads, name, id)?;
    let pairs = query_pairs(&request);
    let digest: Digest = last_value(&pairs, "digest")
        .ok_or_else(|| OciError::digest_invalid("the digest query parameter is required"))?
        .parse()?;
    let content_range = header(&request, "content-range").map(str::to_string);
    let chunk = read_body(request.into_body()).await?;
    let mut store = ctx.store()?;
    let upload = session_of(&mut store.uploads, name, id)?;
    if !chunk.is_empty() {
        check_chunk(
            ctx,
            name,
            id,
            upload.data.len(),
            content_range.as_deref(),
            chunk.len(),
        )?;
    }
    let mut content = upload.data.clone();
    content.extend_from_slice(&chunk);
    verify(&digest, &content)?;
    store.uploads.remove(id);
    let digest = digest.to_string();
    store.put_blob(name, &digest, Bytes::from(content));
    Ok(blobs::created(ctx, name, &digest))
}

/// `GET`: the session's progress.
pub fn status(ctx: &Context, name: &str, id: &str) -> Result<Response<Body>, OciError> {
    let mut store = ctx.store()?;
    let upload = session_of(&mut store.uploads, name, id)?;
    Ok(session_response(ctx, 204, name, id, upload.data.len()))
}

/// `DELETE`: abandons the session.
pub fn cancel(ctx: &Context, name: &str, id: &str) -> Result<Response<Body>, OciError> {
    let mut store = ctx.store()?;
    session_of(&mut store.uploads, name, id)?;
    store.uploads.remove(id);
    Ok(empty(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes=10-19"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes 10-19/20"), Some((10, 19)));
        assert_eq!(parse_content_range("x"), None);
        assert_eq!(range(0), "0-0");
        assert_eq!(range(10), "0-9");
    }
}
