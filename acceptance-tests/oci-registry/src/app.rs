//! Request dispatch: fault injection, routing, validation, auth, the handler, the log.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::auth::{AuthKind, Requirement};
use crate::context::{Context, LoggedRequest, redact_query};
use crate::error::{ErrorCode, OciError};
use crate::http::{Body, json, parse_pairs, set_header};
use crate::reference::validate_name;
use crate::route::{self, Endpoint, Route};
use crate::{blobs, listing, manifests, token, uploads};

/// Serves one request.
pub async fn handle(
    ctx: Arc<Context>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(redact_query);
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = match ctx.take_fault() {
        Some(status) => OciError::new(
            status,
            ErrorCode::for_status(status),
            format!("injected fault: answering {status}"),
        )
        .into_response(),
        None => dispatch(&ctx, request, authorization.as_deref())
            .await
            .unwrap_or_else(OciError::into_response),
    };
    set_header(
        &mut response,
        "docker-distribution-api-version",
        "registry/2.0",
    );
    ctx.record(LoggedRequest {
        method,
        path,
        query,
        status: response.status().as_u16(),
        auth: AuthKind::of_header(authorization.as_deref()),
        user: response
            .extensions()
            .get::<token::TokenUser>()
            .map(|u| u.0.clone())
            .or_else(|| ctx.auth.claimed_user(authorization.as_deref())),
    });
    Ok(response)
}

/// What `method` on `route` needs from the caller; 405 for methods the route does not answer.
fn requirement(route: &Endpoint, method: &Method) -> Result<Requirement, OciError> {
    let allowed = route.allowed_methods();
    if !allowed.split(", ").any(|m| m == method.as_str()) {
        return Err(OciError::unsupported_method(method.as_str(), allowed));
    }
    let actions: &'static [&'static str] = match *method {
        Method::GET | Method::HEAD => &["pull"],
        Method::DELETE => &["delete"],
        _ => &["pull", "push"],
    };
    Ok(match (route, route.repository()) {
        (Endpoint::Catalog, _) => Requirement::Catalog,
        (_, Some(name)) => Requirement::Repository {
            name: name.to_string(),
            actions,
        },
        (_, None) => Requirement::Authenticated,
    })
}

async fn dispatch(
    ctx: &Context,
    request: Request<Incoming>,
    authorization: Option<&str>,
) -> Result<Response<Body>, OciError> {
    match route::parse(request.uri().path()) {
        Route::Registry(endpoint) => serve_endpoint(ctx, endpoint, request, authorization).await,
        Route::Token => token::handle(ctx, request).await,
        Route::Unknown => Err(
            OciError::new(404, ErrorCode::Unsupported, "no such endpoint")
                .with_detail(serde_json::json!({ "path": request.uri().path() })),
        ),
    }
}

/// Validates the repository name, checks the method and the caller, then runs the handler.
async fn serve_endpoint(
    ctx: &Context,
    endpoint: Endpoint,
    request: Request<Incoming>,
    authorization: Option<&str>,
) -> Result<Response<Body>, OciError> {
    if let Some(name) = endpoint.repository() {
        validate_name(name)?;
    }
    let need = requirement(&endpoint, request.method())?;
    let caller = ctx.auth.check(authorization, &need)?;
    let pairs = parse_pairs(request.uri().query().unwrap_or(""));
    let method = request.method().clone();
    match (endpoint, method) {
        (Endpoint::Base, _) => Ok(json(200, &serde_json::json!({}))),
        (Endpoint::Catalog, _) => listing::catalog(ctx, &pairs),
        (Endpoint::Tags { name }, _) => listing::tags(ctx, &name, &pairs),
        (Endpoint::Referrers { name, digest }, _) => {
            listing::referrers(ctx, &name, &digest, &pairs)
        }
        (Endpoint::Blob { name, digest }, Method::DELETE) => blobs::delete(ctx, &name, &digest),
        (Endpoint::Blob { name, digest }, _) => blobs::get(ctx, &name, &digest),
        (Endpoint::Manifest { name, reference }, Method::PUT) => {
            manifests::put(ctx, &name, &reference, request).await
        }
        (Endpoint::Manifest { name, reference }, Method::DELETE) => {
            manifests::delete(ctx, &name, &reference)
        }
        (Endpoint::Manifest { name, reference }, _) => manifests::get(ctx, &name, &reference),
        (Endpoint::UploadStart { name }, _) => uploads::start(ctx, &caller, &name, request).await,
        (Endpoint::Upload { name, id }, Method::PATCH) => {
            uploads::patch(ctx, &name, &id, request).await
        }
        (Endpoint::Upload { name, id }, Method::PUT) => {
            uploads::put(ctx, &name, &id, request).await
        }
        (Endpoint::Upload { name, id }, Method::DELETE) => uploads::cancel(ctx, &name, &id),
        (Endpoint::Upload { name, id }, _) => uploads::status(ctx, &name, &id),
    }
}
