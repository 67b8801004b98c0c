//! HTTP plumbing shared by the API and admin listeners: body type, responses, query parsing,
//! and the accept loop (plain TCP or TLS, HTTP/1.1 with keep-alive).

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::status::ApiError;

/// Response body type of both listeners.
pub type Body = BoxBody<Bytes, Infallible>;

/// Returned by a handler to drop the connection without answering (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose")]
pub struct DropConnection;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

pub fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

pub fn json_response(status: u16, value: &Value) -> Response<Body> {
    respond(status, "application/json", value.to_string())
}

pub fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code, &error.to_status())
}

fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a query string into a map (last value wins).
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(pair), String::new()),
        })
        .collect()
}

/// Reads a request body (bounded).
pub async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    const LIMIT: usize = 16 * 1024 * 1024;
    let limited = http_body_util::Limited::new(body, LIMIT);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("reading the request body: {e}"),
        )
    })
}

pub use test_server_kit::serve;
