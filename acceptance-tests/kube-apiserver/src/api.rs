//! The Kubernetes API listener: authentication, fault injection, request log and routing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use crate::admin_types::{Fault, FaultAction, RequestRecord};
use crate::auth::TokenGrant;
use crate::http::{
    Body, DropConnection, error_response, json_response, parse_query, read_body, respond,
};
use crate::ops::{self, DeleteOptions, ListOptions, PatchKind, WriteOptions};
use crate::resources::{self, AGGREGATED_DISCOVERY_CONTENT_TYPE, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{State, Store};
use crate::{protobuf, quota, rbac, table, watch};

/// The request log keeps at most this many entries (the oldest tenth is dropped when full).
const REQUEST_LOG_LIMIT: usize = 100_000;

/// Shared state of the API listener.
pub struct ApiContext {
    pub store: Arc<Store>,
    /// Accepted tokens; `None` disables authentication (plain HTTP).
    pub grants: Option<Vec<TokenGrant>>,
    pub faults: Mutex<Vec<Fault>>,
    pub log: Mutex<Vec<RequestRecord>>,
    /// `host:port` advertised in legacy discovery.
    pub server_address: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ApiContext {
    fn take_fault(&self, method: &str, path: &str, user_agent: &str) -> Option<FaultAction> {
        let mut faults = lock(&self.faults);
        let fault = faults
            .iter_mut()
            .find(|f| f.matches(method, path, user_agent))?;
        fault.count -= 1;
        let action = fault.action.clone();
        faults.retain(|f| f.count > 0);
        Some(action)
    }
}

fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

/// A request header's text (`""` when absent or not text).
fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Serves one request of the Kubernetes API listener.
pub async fn handle(
    ctx: Arc<ApiContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let header = |name| header(&req, name);
    let mut record = RequestRecord {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        content_type: header(hyper::header::CONTENT_TYPE),
        status: 0,
        user_agent: header(hyper::header::USER_AGENT),
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let response = match ctx.take_fault(&record.method, &record.path, &record.user_agent) {
        Some(FaultAction::Drop) => {
            lock(&ctx.log).push(record);
            return Err(DropConnection);
        }
        Some(FaultAction::Status { code, message }) => {
            let message = message.unwrap_or_else(|| format!("injected fault {code}"));
            error_response(&ApiError::new(code, reason_for(code), message))
        }
        Some(FaultAction::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            serve(&ctx, req).await
        }
        None => serve(&ctx, req).await,
    };
    record.status = response.status().as_u16();
    let mut log = lock(&ctx.log);
    if log.len() >= REQUEST_LOG_LIMIT {
        log.drain(..REQUEST_LOG_LIMIT / 10);
    }
    log.push(record);
    Ok(response)
}

async fn serve(ctx: &Arc<ApiContext>, req: Request<Incoming>) -> Response<Body> {
    match dispatch(ctx, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

/// A parsed resource URL.
#[derive(Debug)]
struct Target {
    resource: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| resources::find(group, version, plural);
    let target = |resource, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Some(Target {
            resource,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        })
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            let resource = find(plural)?;
            match tail {
                [] => target(resource, Some(ns), None, None),
                [name] => target(resource, Some(ns), Some(name), None),
                [name, sub] => target(resource, Some(ns), Some(name), Some(sub)),
                _ => None,
            }
        }
        [plural, tail @ ..] => {
            let resource = find(plural)?;
            match tail {
                [] => target(resource, None, None, None),
                [name] if !resource.namespaced => target(resource, None, Some(name), None),
                [name, sub] if !resource.namespaced => {
                    target(resource, None, Some(name), Some(sub))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn wants_aggregated(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=APIGroupDiscoveryList") && v.contains("v=v2"))
}

fn non_resource(ctx: &ApiContext, req: &Request<Incoming>, path: &str) -> Option<Response<Body>> {
    let path = path.trim_end_matches('/');
    let response = match path {
        "/version" => json_response(
            200,
            &json!({
                "major": "1", "minor": "35", "gitVersion": "v1.35.0", "gitCommit": "kube-test-server",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25",
                "compiler": "gc", "platform": "linux/amd64",
            }),
        ),
        "/healthz" | "/readyz" | "/livez" => respond(200, "text/plain; charset=utf-8", "ok"),
        "/openapi/v2" => respond(
            200,
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            Bytes::new(),
        ),
        "/openapi/v3" => error_response(&ApiError::path_not_found()),
        "/api" | "/apis" => {
            let core = path == "/api";
            if wants_aggregated(req) {
                respond(
                    200,
                    AGGREGATED_DISCOVERY_CONTENT_TYPE,
                    resources::aggregated_discovery(core).to_string(),
                )
            } else if core {
                json_response(200, &resources::legacy_api_versions(&ctx.server_address))
            } else {
                json_response(200, &resources::legacy_api_group_list())
            }
        }
        _ => {
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            let doc = match segments.as_slice() {
                ["api", version] => resources::legacy_resource_list("", version),
                ["apis", group] => resources::legacy_api_group(group),
                ["apis", group, version] => resources::legacy_resource_list(group, version),
                _ => return None,
            };
            match doc {
                Some(d) => json_response(200, &d),
                None => error_response(&ApiError::path_not_found()),
            }
        }
    };
    Some(response)
}

fn verb_for(method: &Method, target: &Target, query: &HashMap<String, String>) -> &'static str {
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    match (method, target.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if watching => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "unknown",
    }
}

fn decode_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    match base {
        "application/vnd.kubernetes.protobuf" => protobuf::decode(body),
        "application/yaml" => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
        "application/json" | "" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn list_options(query: &HashMap<String, String>) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        limit: query.get("limit").and_then(|l| l.parse().ok()),
        continue_token: query.get("continue").cloned(),
    })
}

/// The field manager of a write without `fieldManager`: the user agent's program name.
fn default_manager(user_agent: &str) -> String {
    match user_agent.split('/').next().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "unknown".to_string(),
    }
}

/// Authenticates, answers the non-resource paths, authorizes and parses a resource request,
/// then routes it to its verb's handler ([`route`]).
async fn dispatch(
    ctx: &Arc<ApiContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let grant = match &ctx.grants {
        Some(grants) => {
            let header = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            Some(rbac::authenticate(&ctx.store, grants, header)?)
        }
        None => None,
    };
    let path = req.uri().path().to_string();
    if let Some(response) = non_resource(ctx, &req, &path) {
        return Ok(response);
    }
    let target = parse_target(&path).ok_or_else(ApiError::path_not_found)?;
    let query = parse_query(req.uri().query());
    let verb = verb_for(req.method(), &target, &query);
    if let Some(caller) = &grant {
        let ns = if target.resource.namespaced {
            target.namespace.as_deref()
        } else {
            None
        };
        caller.authorize(
            &ctx.store,
            &rbac::Request {
                verb,
                resource: target.resource,
                subresource: target.subresource.as_deref(),
                namespace: ns,
                name: target.name.as_deref(),
            },
        )?;
    }
    let header = |name| header(&req, name);
    let content_type = header(hyper::header::CONTENT_TYPE);
    let user_agent = header(hyper::header::USER_AGENT);
    let as_table = table::wanted(&header(hyper::header::ACCEPT)) && target.subresource.is_none();
    let method = req.method().clone();
    let body = read_body(req.into_body()).await?;
    let write = WriteOptions {
        manager: query
            .get("fieldManager")
            .cloned()
            .unwrap_or_else(|| default_manager(&user_agent)),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        force: query.get("force").is_some_and(|f| f == "true"),
        subresource: target.subresource.clone(),
    };
    let rt = target.resource;
    if target.subresource.as_deref() == Some("token")
        && rt.kind == "ServiceAccount"
        && method == Method::POST
        && let (Some(ns), Some(name)) = (target.namespace.as_deref(), target.name.as_deref())
    {
        return Ok(json_response(
            201,
            &rbac::token_request(&ctx.store, ns, name)?,
        ));
    }
    if target.subresource.as_deref() == Some("log")
        && rt.kind == "Pod"
        && method == Method::GET
        && let (Some(ns), Some(name)) = (target.namespace.as_deref(), target.name.as_deref())
    {
        let text = ctx
            .store
            .with(|st| crate::kubelet::logs(st, ns, name, &query))?;
        return Ok(respond(200, "text/plain", text));
    }
    if let Some(sub) = target.subresource.as_deref()
        && !matches!(sub, "status" | "scale")
    {
        return Err(ApiError::path_not_found());
    }
    let is_scale = target.subresource.as_deref() == Some("scale");
    if is_scale && !matches!(rt.kind, "Deployment" | "ReplicaSet") {
        return Err(ApiError::path_not_found());
    }
    let call = Call {
        store: &ctx.store,
        rt,
        target,
        query,
        content_type,
        body,
        write,
        as_table,
        is_scale,
    };
    route(&method, verb, &call)
}

/// A parsed, authorized resource request: what each verb's handler works from.
struct Call<'a> {
    store: &'a Arc<Store>,
    rt: &'static ResourceType,
    target: Target,
    query: HashMap<String, String>,
    content_type: String,
    body: Bytes,
    write: WriteOptions,
    /// `Accept` asks for a `Table` (and the request is not for a subresource).
    as_table: bool,
    /// The request is for the `scale` subresource.
    is_scale: bool,
}

impl Call<'_> {
    fn ns(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }

    fn include_object(&self) -> Option<&str> {
        self.query.get("includeObject").map(String::as_str)
    }

    fn decoded_body(&self) -> Result<Value, ApiError> {
        decode_body(&self.content_type, &self.body)
    }
}

/// The resource routes: method, and whether the URL names an object, to the verb's handler.
fn route(method: &Method, verb: &str, call: &Call) -> Result<Response<Body>, ApiError> {
    match (method, call.target.name.as_deref()) {
        (&Method::GET, Some(name)) => get(call, name),
        (&Method::GET, None) if verb == "watch" => open_watch(call),
        (&Method::GET, None) => list(call),
        (&Method::POST, None) => create(call),
        (&Method::PUT, Some(name)) => replace(call, name),
        (&Method::PATCH, Some(name)) => patch(call, name),
        (&Method::DELETE, Some(name)) => delete(call, name),
        (&Method::DELETE, None) => delete_collection(call),
        (m, _) => Err(ApiError::method_not_allowed(m.as_str())),
    }
}

fn table_response(call: &Call, items: &[Value], list_metadata: Option<&Value>) -> Response<Body> {
    let t = table::render(call.rt.kind, items, list_metadata, call.include_object());
    respond(200, table::TABLE_CONTENT_TYPE, t.to_string())
}

fn get(call: &Call, name: &str) -> Result<Response<Body>, ApiError> {
    let object = call
        .store
        .with(|st| ops::get(st, call.rt, call.ns(), name))?;
    if call.as_table {
        return Ok(table_response(call, std::slice::from_ref(&object), None));
    }
    Ok(json_response(
        200,
        &if call.is_scale {
            ops::scale_of(&object)
        } else {
            object
        },
    ))
}

fn open_watch(call: &Call) -> Result<Response<Body>, ApiError> {
    let query = &call.query;
    let request = watch::WatchRequest {
        resource: call.rt,
        namespace: call.target.namespace.clone(),
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        resource_version: query.get("resourceVersion").cloned(),
        send_initial_events: query.get("sendInitialEvents").is_some_and(|v| v == "true"),
        timeout: Duration::from_secs(
            query
                .get("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .unwrap_or(1800),
        ),
    };
    let stream = watch::open(call.store, request)?;
    let mut response = Response::new(StreamBody::new(stream).boxed());
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn list(call: &Call) -> Result<Response<Body>, ApiError> {
    let options = list_options(&call.query)?;
    if call.as_table {
        let list = call
            .store
            .with(|st| ops::list(st, call.rt, call.ns(), &options).map(|page| page.to_value()))?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        return Ok(table_response(call, &items, Some(&list["metadata"])));
    }
    let body = call.store.with(|st| {
        ops::list(st, call.rt, call.ns(), &options)
            .map(|page| serde_json::to_string(&page).expect("a list of JSON values serializes"))
    })?;
    Ok(respond(200, "application/json", body))
}

fn create(call: &Call) -> Result<Response<Body>, ApiError> {
    let (rt, ns) = (call.rt, call.ns());
    let object = call.decoded_body()?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(json_response(
        201,
        &call.store.with(|st| {
            quota::admit_create(st, rt, ns, &name)?;
            let created = ops::create(st, rt, ns, object, &call.write)?;
            quota_written(st, rt, ns, &created);
            Ok::<_, ApiError>(created)
        })?,
    ))
}

fn replace(call: &Call, name: &str) -> Result<Response<Body>, ApiError> {
    let (rt, ns) = (call.rt, call.ns());
    let object = call.decoded_body()?;
    let result = if call.is_scale {
        call.store
            .with(|st| ops::write_scale(st, rt, ns, name, &object, &call.write))?
    } else {
        call.store.with(|st| {
            let updated = ops::update(st, rt, ns, name, object, &call.write)?;
            quota_written(st, rt, ns, &updated);
            Ok::<_, ApiError>(updated)
        })?
    };
    Ok(json_response(200, &result))
}

fn patch(call: &Call, name: &str) -> Result<Response<Body>, ApiError> {
    let (rt, ns) = (call.rt, call.ns());
    let kind = PatchKind::from_content_type(&call.content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(&call.content_type))?;
    if call.is_scale {
        return Ok(json_response(200, &patch_scale(call, name, kind)?));
    }
    let (object, created) = call.store.with(|st| {
        if kind == PatchKind::Apply && st.get(rt, ns.unwrap_or(""), name).is_none() {
            quota::admit_create(st, rt, ns, name)?;
        }
        let (object, created) = ops::patch(st, rt, ns, name, kind, &call.body, &call.write)?;
        quota_written(st, rt, ns, &object);
        Ok::<_, ApiError>((object, created))
    })?;
    Ok(json_response(if created { 201 } else { 200 }, &object))
}

/// A JSON or merge patch of the `scale` subresource.
fn patch_scale(call: &Call, name: &str, kind: PatchKind) -> Result<Value, ApiError> {
    let (rt, ns) = (call.rt, call.ns());
    call.store.with(|st| -> Result<Value, ApiError> {
        let object = ops::get(st, rt, ns, name)?;
        let mut scale = ops::scale_of(&object);
        let patch: Value =
            serde_json::from_slice(&call.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        match kind {
            PatchKind::Json => {
                let p: json_patch::Patch = serde_json::from_value(patch)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                json_patch::patch(&mut scale, &p)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            _ => json_patch::merge(&mut scale, &patch),
        }
        ops::write_scale(st, rt, ns, name, &scale, &call.write)
    })
}

fn delete_options(call: &Call) -> Result<DeleteOptions, ApiError> {
    let mut options = if call.body.is_empty() {
        DeleteOptions::default()
    } else {
        DeleteOptions::from_json(&call.decoded_body()?)
    };
    if let Some(p) = call.query.get("propagationPolicy") {
        options.propagation_policy = Some(p.clone());
    }
    if let Some(g) = call
        .query
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
    {
        options.grace_period_seconds = Some(g);
    }
    options.dry_run |= call.write.dry_run;
    Ok(options)
}

fn delete(call: &Call, name: &str) -> Result<Response<Body>, ApiError> {
    let (rt, ns) = (call.rt, call.ns());
    let options = delete_options(call)?;
    Ok(json_response(
        200,
        &call.store.with(|st| {
            let deleted = ops::delete(st, rt, ns, name, &options)?;
            quota_written(st, rt, ns, &Value::Null);
            Ok::<_, ApiError>(deleted)
        })?,
    ))
}

fn delete_collection(call: &Call) -> Result<Response<Body>, ApiError> {
    let options = delete_options(call)?;
    let list = list_options(&call.query)?;
    Ok(json_response(
        200,
        &call
            .store
            .with(|st| ops::delete_collection(st, call.rt, call.ns(), &list, &options))?,
    ))
}

/// After a write or delete of a `ResourceQuota`: fill in its status as the quota controller
/// would, and let the controllers retry what it refused.
fn quota_written(st: &mut State, rt: &ResourceType, ns: Option<&str>, object: &Value) {
    if rt.kind != "ResourceQuota" {
        return;
    }
    let Some(ns) = ns else {
        return;
    };
    if let Some(name) = object["metadata"]["name"].as_str() {
        quota::refresh_status(st, ns, name);
    }
    // Pods a quota held back are made once it allows them.
    crate::controller::reconcile_namespace(st, ns);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("/api/v1/namespaces/a/configmaps/x").expect("test value");
        assert_eq!(
            (t.resource.plural, t.namespace.as_deref(), t.name.as_deref()),
            ("configmaps", Some("a"), Some("x"))
        );
        let t = parse_target("/api/v1/namespaces/a").expect("test value");
        assert_eq!(
            (t.resource.plural, t.namespace, t.name.as_deref()),
            ("namespaces", None, Some("a"))
        );
        let t = parse_target("/api/v1/namespaces").expect("test value");
        assert!(t.name.is_none());
        let t =
            parse_target("/apis/apps/v1/namespaces/a/deployments/d/status").expect("test value");
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_target("/api/v1/secrets").expect("test value");
        assert!(t.namespace.is_none() && t.name.is_none());
        assert!(parse_target("/api/v1/secrets/x").is_none());
        assert!(parse_target("/apis/batch/v1/jobs").is_none());
        let t = parse_target("/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
            .expect("test value");
        assert_eq!(t.name.as_deref(), Some("admin"));
    }
}
