//! HTTP plumbing: the body type, response builders, query parsing, bounded body reading and
//! the accept loop (plain TCP or TLS, HTTP/1.1 with keep-alive).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::error::{ErrorCode, OciError};

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (blob chunks, manifests, token forms).
const BODY_LIMIT: usize = 256 * 1024 * 1024;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A response with a status, an optional content type and a body.
pub fn respond(status: u16, content_type: Option<&str>, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(v) = content_type.and_then(|c| c.parse().ok()) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// A response without body (`Content-Length: 0`).
pub fn empty(status: u16) -> Response<Body> {
    respond(status, None, Bytes::new())
}

pub fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    respond(status, Some("application/json"), value.to_string())
}

/// Adds a header, skipping values that are not valid header values.
pub fn set_header(response: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = value.parse() {
        response.headers_mut().insert(name, v);
    }
}

/// The decoded `key=value` pairs of a query string or form body, in order (repeats kept).
pub fn parse_pairs(input: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(input.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last value of `key` among `pairs`.
pub fn last_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A request header as text.
pub fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads a request body (bounded).
pub async fn read_body(body: Incoming) -> Result<Bytes, OciError> {
    let limited = http_body_util::Limited::new(body, BODY_LIMIT);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| {
        OciError::new(
            413,
            ErrorCode::SizeInvalid,
            format!("reading the request body: {e}"),
        )
    })
}

pub use test_server_kit::serve;
