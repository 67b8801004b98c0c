//! The admin surface (its own listener, never part of the Kubernetes API): faults, job pods,
//! out-of-band edits, and state / request-log dumps.
//!
//! | request | effect |
//! |---|---|
//! | `GET /healthz` | `ok` |
//! | `GET /state` | `{"resourceVersion": "N", "objects": [...]}` |
//! | `GET /requests`, `DELETE /requests` | the API request log / clear it |
//! | `GET /faults`, `POST /faults` (a [`Fault`]), `DELETE /faults` | list / add / clear faults |
//! | `POST /objects` (any served object, namespace in `metadata`) | create it; a pod keeps the given `status` |
//! | `POST /pod-phase/<ns>/<name>` `{"phase": "Running"}` | move a pod to a phase |
//! | `POST /edit/<API item path>` (JSON merge patch) | patch as field manager `kubectl-edit` |
//! | `POST /behaviour` `{"ready_delay_ms": N, "pod_termination_grace_ms": N, "check_volumes": bool}` | change controller timing, and whether missing Secret/ConfigMap volumes keep pods creating (default on), from now on |
//! | `POST /images` (an [`ImageRule`](crate::kubelet::ImageRule)) | what an image does in pods started from now on |

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use crate::admin_types::Fault;
use crate::api::ApiContext;
use crate::controller;
use crate::http::{Body, DropConnection, error_response, json_response, read_body, respond};
use crate::ops::{self, PatchKind, WriteOptions};
use crate::resources;
use crate::status::ApiError;

/// The field manager of admin edits (as if `kubectl edit` ran).
pub const EDIT_MANAGER: &str = "kubectl-edit";

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Serves one admin request.
pub async fn handle(
    ctx: Arc<ApiContext>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(e) => return Ok(error_response(&e)),
    };
    Ok(match route(&ctx, &method, &path, &body) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid admin request body: {e}")))
}

fn route(
    ctx: &Arc<ApiContext>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let store = &ctx.store;
    match (method, path) {
        (&Method::GET, "/healthz") => Ok(respond(200, "text/plain", "ok")),
        (&Method::GET, "/state") => {
            let state = store.with(|st| json!({"resourceVersion": st.resource_version().to_string(), "objects": st.all_objects()}));
            Ok(json_response(200, &state))
        }
        (&Method::GET, "/requests") => Ok(json_response(200, &json!(*lock(&ctx.log)))),
        (&Method::DELETE, "/requests") => {
            lock(&ctx.log).clear();
            Ok(json_response(200, &json!({})))
        }
        (&Method::GET, "/faults") => Ok(json_response(200, &json!(*lock(&ctx.faults)))),
        (&Method::POST, "/faults") => {
            let fault: Fault = parse(body)?;
            lock(&ctx.faults).push(fault);
            Ok(json_response(201, &json!({})))
        }
        (&Method::DELETE, "/faults") => {
            lock(&ctx.faults).clear();
            Ok(json_response(200, &json!({})))
        }
        (&Method::POST, "/behaviour") => {
            let request: Value = parse(body)?;
            let updated = store.with(|st| {
                if let Some(ms) = request["ready_delay_ms"].as_u64() {
                    st.behaviour.ready_delay = std::time::Duration::from_millis(ms);
                }
                if let Some(ms) = request["pod_termination_grace_ms"].as_u64() {
                    st.behaviour.pod_termination_grace = std::time::Duration::from_millis(ms);
                }
                if let Some(check) = request["check_volumes"].as_bool() {
                    st.behaviour.check_volumes = check;
                }
                json!({
                    "ready_delay_ms": st.behaviour.ready_delay.as_millis() as u64,
                    "pod_termination_grace_ms": st.behaviour.pod_termination_grace.as_millis() as u64,
                    "check_volumes": st.behaviour.check_volumes,
                })
            });
            Ok(json_response(200, &updated))
        }
        (&Method::POST, "/images") => {
            let rule: crate::kubelet::ImageRule = parse(body)?;
            store.with(|st| st.images.insert(rule.image.clone(), rule.behaviour.clone()));
            Ok(json_response(201, &json!(rule)))
        }
        (&Method::POST, "/objects") => {
            let object: Value = parse(body)?;
            Ok(json_response(201, &create_object(ctx, object)?))
        }
        (&Method::POST, p) if p.starts_with("/pod-phase/") => {
            let rest = &p["/pod-phase/".len()..];
            let (ns, name) = rest
                .split_once('/')
                .ok_or_else(|| ApiError::bad_request("expected /pod-phase/<namespace>/<name>"))?;
            let request: Value = parse(body)?;
            let phase = request["phase"]
                .as_str()
                .ok_or_else(|| ApiError::bad_request("phase is required"))?;
            Ok(json_response(200, &set_pod_phase(ctx, ns, name, phase)?))
        }
        (&Method::POST, p) if p.starts_with("/edit/") => {
            let api_path = &p["/edit".len()..];
            Ok(json_response(200, &edit(ctx, api_path, body)?))
        }
        _ => Err(ApiError::path_not_found()),
    }
}

fn create_object(ctx: &Arc<ApiContext>, object: Value) -> Result<Value, ApiError> {
    let kind = object["kind"].as_str().unwrap_or("");
    let rt = resources::by_kind(kind)
        .ok_or_else(|| ApiError::bad_request(format!("unsupported kind {kind:?}")))?;
    let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
    let status = object.get("status").cloned();
    let options = WriteOptions {
        manager: "kube-test-server-admin".into(),
        ..Default::default()
    };
    ctx.store.with(|st| {
        let created = ops::create(st, rt, namespace.as_deref(), object, &options)?;
        match status {
            Some(status) if rt.has_status => {
                let name = created["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let status_options = WriteOptions {
                    subresource: Some("status".into()),
                    ..options.clone()
                };
                ops::update(
                    st,
                    rt,
                    namespace.as_deref(),
                    &name,
                    json!({"status": status}),
                    &status_options,
                )
            }
            _ => Ok(created),
        }
    })
}

fn set_pod_phase(
    ctx: &Arc<ApiContext>,
    namespace: &str,
    name: &str,
    phase: &str,
) -> Result<Value, ApiError> {
    let pods = resources::by_kind("Pod").ok_or_else(|| ApiError::internal("no pod type"))?;
    ctx.store.with(|st| {
        let mut pod = ops::get(st, pods, Some(namespace), name)?;
        match phase {
            "Running" => controller::mark_running(&mut pod),
            "Pending" | "Succeeded" | "Failed" | "Unknown" => {
                let ready = json!({"type": "Ready", "status": "False", "reason": if phase == "Pending" { "ContainersNotReady" } else { "PodCompleted" }});
                pod["status"]["phase"] = json!(phase);
                pod["status"]["conditions"] = json!([ready]);
                if matches!(phase, "Succeeded" | "Failed") {
                    let exit_code = if phase == "Succeeded" { 0 } else { 1 };
                    let statuses: Vec<Value> = pod["spec"]["containers"]
                        .as_array()
                        .map(|cs| cs.iter().map(|c| json!({"name": c["name"], "ready": false, "restartCount": 0,
                            "state": {"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" }}}})).collect())
                        .unwrap_or_default();
                    pod["status"]["containerStatuses"] = json!(statuses);
                }
            }
            other => return Err(ApiError::bad_request(format!("unknown pod phase {other:?}"))),
        }
        let options = WriteOptions { manager: "kubelet".into(), subresource: Some("status".into()), ..Default::default() };
        ops::update(st, pods, Some(namespace), name, pod, &options)
    })
}

fn edit(ctx: &Arc<ApiContext>, api_path: &str, patch: &[u8]) -> Result<Value, ApiError> {
    let segments: Vec<&str> = api_path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, "v1", rest @ ..] => (*group, rest),
        _ => {
            return Err(ApiError::bad_request(
                "expected /edit/api/v1/... or /edit/apis/<group>/v1/...",
            ));
        }
    };
    let (plural, namespace, name) = match rest {
        ["namespaces", ns, plural, name] => (*plural, Some(*ns), *name),
        [plural, name] => (*plural, None, *name),
        _ => return Err(ApiError::bad_request("expected an object path")),
    };
    let rt = resources::find(group, "v1", plural).ok_or_else(ApiError::path_not_found)?;
    let options = WriteOptions {
        manager: EDIT_MANAGER.into(),
        ..Default::default()
    };
    ctx.store
        .with(|st| ops::patch(st, rt, namespace, name, PatchKind::Merge, patch, &options))
        .map(|(object, _)| object)
}
