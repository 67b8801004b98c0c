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
use crate::route::{self, Route};
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
fn requirement(route: &Route, method: &Method) -> Result<Requirement, OciError> {
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
        (Route::Catalog, _) => Requirement::Catalog,
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
    let route = route::parse(request.uri().path());
    match route {
        Route::Token => return token::handle(ctx, request).await,
        Route::Unknown => {
            return Err(
                OciError::new(404, ErrorCode::Unsupported, "no such endpoint")
                    .with_detail(serde_json::json!({ "path": request.uri().path() })),
            );
        }
        _ => {}
    }
    if let Some(name) = route.repository() {
        validate_name(name)?;
    }
    let need = requirement(&route, request.method())?;
    let caller = ctx.auth.check(authorization, &need)?;
    let pairs = parse_pairs(request.uri().query().unwrap_or(""));
    let method = request.method().clone();
    match (route, method) {
        (Route::Base, _) => Ok(json(200, &serde_json::json!({}))),
        (Route::Catalog, _) => listing::catalog(ctx, &pairs),
        (Route::Tags { name }, _) => listing::tags(ctx, &name, &pairs),
        (Route::Referrers { name, digest }, _) => listing::referrers(ctx, &name, &digest, &pairs),
        (Route::Blob { name, digest }, Method::DELETE) => blobs::delete(ctx, &name, &digest),
        (Route::Blob { name, digest }, _) => blobs::get(ctx, &name, &digest),
        (Route::Manifest { name, reference }, Method::PUT) => {
            manifests::put(ctx, &name, &reference, request).await
        }
        (Route::Manifest { name, reference }, Method::DELETE) => {
            manifests::delete(ctx, &name, &reference)
        }
        (Route::Manifest { name, reference }, _) => manifests::get(ctx, &name, &reference),
        (Route::UploadStart { name }, _) => uploads::start(ctx, &caller, &name, request).await,
        (Route::Upload { name, id }, Method::PATCH) => {
            uploads::patch(ctx, &name, &id, request).await
        }
        (Route::Upload { name, id }, Method::PUT) => uploads::put(ctx, &name, &id, request).await,
        (Route::Upload { name, id }, Method::DELETE) => uploads::cancel(ctx, &name, &id),
        (Route::Upload { name, id }, _) => uploads::status(ctx, &name, &id),
        (Route::Token | Route::Unknown, _) => {
            Err(OciError::new(500, ErrorCode::Unknown, "unrouted"))
        }
    }
}
