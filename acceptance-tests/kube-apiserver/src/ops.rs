//! The API operations (get, list, create, update, patch, apply, delete) on the locked state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::controller;
use crate::fields::{self, Writer};
use crate::kinds;
use crate::resources::{self, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{State, Timer, now_timestamp};
use crate::strategic;

/// Options common to writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Field manager recorded in managedFields.
    pub manager: String,
    pub dry_run: bool,
    /// Server-side apply `force`.
    pub force: bool,
    /// `status` or `scale` when the request targets a subresource.
    pub subresource: Option<String>,
}

/// The PATCH flavours, by request content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// List query parameters.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

fn ns_key(rt: &ResourceType, namespace: Option<&str>) -> String {
    if rt.namespaced {
        namespace.unwrap_or("").to_string()
    } else {
        String::new()
    }
}

fn require_namespace(
    st: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    let ns = namespace.unwrap_or("");
    let namespaces =
        resources::by_kind("Namespace").ok_or_else(|| ApiError::internal("no namespace type"))?;
    match st.get(namespaces, "", ns) {
        Some(n) if n["metadata"].get("deletionTimestamp").is_some() => Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        )),
        Some(_) => Ok(()),
        None => Err(ApiError::namespace_not_found(ns)),
    }
}

pub fn get(
    st: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    st.get(rt, &ns_key(rt, namespace), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))
}

/// One page of a list response (`<Kind>List`), borrowing the stored objects: it is serialized
/// straight from the store, not copied first (a LIST of a busy namespace copied every object).
#[derive(serde::Serialize)]
pub struct ListPage<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<&'a Value>,
}

impl ListPage<'_> {
    pub fn to_value(&self) -> Value {
        json!({
            "kind": self.kind,
            "apiVersion": self.api_version,
            "metadata": self.metadata,
            "items": self.items,
        })
    }
}

/// A list response (`<Kind>List`) honouring selectors, limit and continue.
pub fn list<'a>(
    st: &'a State,
    rt: &ResourceType,
    namespace: Option<&str>,
    options: &ListOptions,
) -> Result<ListPage<'a>, ApiError> {
    let ns = if rt.namespaced { namespace } else { None };
    let after: Option<(String, String)> = match &options.continue_token {
        Some(token) if !token.is_empty() => {
            let raw = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            let (n, name) = raw
                .split_once('/')
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            Some((n.to_string(), name.to_string()))
        }
        _ => None,
    };
    let matching: Vec<&Value> = st
        .list(rt, ns)
        .into_iter()
        .filter(|o| {
            let key = (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            );
            after.as_ref().is_none_or(|a| key > *a)
        })
        .filter(|o| options.labels.matches(o) && options.fields.matches(o))
        .collect();
    let limit = options.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
    let mut metadata = json!({"resourceVersion": st.resource_version().to_string()});
    if matching.len() > limit {
        let last = matching[limit - 1];
        let token = format!(
            "{}/{}",
            last["metadata"]["namespace"].as_str().unwrap_or(""),
            last["metadata"]["name"].as_str().unwrap_or("")
        );
        metadata["continue"] = json!(URL_SAFE_NO_PAD.encode(token));
        metadata["remainingItemCount"] = json!(matching.len() - limit);
    }
    Ok(ListPage {
        kind: format!("{}List", rt.kind),
        api_version: rt.api_version(),
        metadata,
        items: matching.into_iter().take(limit).collect(),
    })
}

fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_suffix(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Brings a written object into its stored form: type meta, server-owned metadata,
/// generation, status handling, kind defaults; then validates it.
fn prepare(
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    previous: Option<&Value>,
    body: Value,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    if let Some(kind) = map.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}), or kind {kind} is not {}",
            map.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            rt.api_version(),
            rt.kind
        )));
    }
    map.insert("apiVersion".into(), json!(rt.api_version()));
    map.insert("kind".into(), json!(rt.kind));
    let mut object = Value::Object(map);
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let body_namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if rt.namespaced && !body_namespace.is_empty() && body_namespace != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let meta = object["metadata"]
        .as_object_mut()
        .ok_or_else(|| ApiError::internal("metadata"))?;
    meta.insert("name".into(), json!(name));
    if rt.namespaced {
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    meta.remove("selfLink");
    meta.remove("resourceVersion");
    match previous {
        Some(prev) => {
            for key in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match prev["metadata"].get(key) {
                    Some(v) => meta.insert(key.into(), v.clone()),
                    None => meta.remove(key),
                };
            }
            if rt.has_status && subresource != Some("status") {
                match prev.get("status") {
                    Some(s) => object["status"] = s.clone(),
                    None => {
                        if let Some(o) = object.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
        }
        None => {
            meta.insert("uid".into(), json!(new_uid()));
            meta.insert("creationTimestamp".into(), json!(now_timestamp()));
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            meta.remove("generation");
            if rt.tracks_generation {
                meta.insert("generation".into(), json!(1));
            }
            if rt.has_status {
                let initial = match rt.kind {
                    "Namespace" => json!({"phase": "Active"}),
                    "Pod" => {
                        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_timestamp()}]})
                    }
                    _ => json!({}),
                };
                object["status"] = initial;
            }
        }
    }
    kinds::check_shapes(rt, &object).map_err(|e| {
        ApiError::bad_request(format!("unable to decode {} \"{name}\": {e}", rt.kind))
    })?;
    kinds::normalize(rt, &mut object);
    if let Some(prev) = previous
        && rt.tracks_generation
        && prev.get("spec") != object.get("spec")
    {
        let generation = prev["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        object["metadata"]["generation"] = json!(generation);
    }
    if let Some(status) = object.get("status")
        && status.as_object().is_some_and(Map::is_empty)
        && let Some(o) = object.as_object_mut()
    {
        o.remove("status");
    }
    let causes = kinds::validate(rt, &object, previous);
    if !causes.is_empty() {
        return Err(ApiError::invalid(rt, name, causes));
    }
    Ok(object)
}

fn writer<'a>(options: &'a WriteOptions, time: &'a str, api_version: &'a str) -> Writer<'a> {
    Writer {
        manager: &options.manager,
        api_version,
        time,
        subresource: options.subresource.as_deref(),
    }
}

/// After-write hooks: the built-in controllers react to workload changes.
fn after_write(st: &mut State, rt: &ResourceType, namespace: &str) {
    // A ServiceAccount appearing lets the ReplicaSet controller's refused creates through.
    if matches!(
        rt.kind,
        "Deployment" | "ReplicaSet" | "Pod" | "ServiceAccount"
    ) {
        controller::reconcile_namespace(st, namespace);
    }
}

/// Stores an object, finishing deletion when its last finalizer was removed.
fn commit(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: &str,
    name: &str,
    object: Value,
) -> Value {
    let finalizing = object["metadata"].get("deletionTimestamp").is_some()
        && object["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
    let stored = if finalizing {
        st.put(rt, namespace, name, object);
        st.remove(rt, namespace, name).unwrap_or(Value::Null)
    } else {
        st.put(rt, namespace, name, object)
    };
    after_write(st, rt, namespace);
    stored
}

pub fn create(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    body: Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    require_namespace(st, rt, namespace)?;
    let ns = ns_key(rt, namespace);
    let mut name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
    if name.is_empty()
        && let Some(prefix) = body["metadata"]["generateName"].as_str()
    {
        name = format!("{prefix}{}", random_suffix(5));
    }
    if st.get(rt, &ns, &name).is_some() {
        return Err(ApiError::already_exists(rt, &name));
    }
    let body_fields = fields::leaf_paths(&body);
    let mut object = prepare(rt, &ns, &name, None, body, None)?;
    let time = now_timestamp();
    let api_version = rt.api_version();
    let mut entries = Vec::new();
    let all = requested_fields(&body_fields, &object);
    fields::record_update(&mut entries, &writer(options, &time, &api_version), &all);
    fields::write_entries(&mut object, &entries);
    if options.dry_run {
        return Ok(object);
    }
    if rt.kind == "Namespace" {
        let stored = commit(st, rt, &ns, &name, object);
        create_default_service_account(st, &name);
        return Ok(stored);
    }
    Ok(commit(st, rt, &ns, &name, object))
}

/// The fields a create request set itself (server defaults are owned by no one); Secret
/// `stringData` keys count as the `data` keys they became.
fn requested_fields(body_fields: &fields::FieldSet, stored: &Value) -> fields::FieldSet {
    let stored_fields = fields::leaf_paths(stored);
    body_fields
        .iter()
        .map(|p| match p.split_first() {
            Some((first, rest)) if first == "f:stringData" => std::iter::once("f:data".to_string())
                .chain(rest.iter().cloned())
                .collect(),
            _ => p.clone(),
        })
        .filter(|p| stored_fields.contains(p))
        .collect()
}

fn create_default_service_account(st: &mut State, namespace: &str) {
    let Some(sa) = resources::by_kind("ServiceAccount") else {
        return;
    };
    if st.get(sa, namespace, "default").is_some() {
        return;
    }
    let object = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace, "uid": new_uid(), "creationTimestamp": now_timestamp()},
    });
    st.put(sa, namespace, "default", object);
}

/// Replaces an object (PUT). A body resourceVersion is an optimistic-concurrency precondition.
pub fn update(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    body: Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let ns = ns_key(rt, namespace);
    let previous = st
        .get(rt, &ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    if let Some(body_name) = body["metadata"]["name"].as_str()
        && !body_name.is_empty()
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != previous["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::stale(rt, name));
    }
    let explicit_managed_fields = body["metadata"].get("managedFields").cloned();
    write_new_state(
        st,
        rt,
        &ns,
        name,
        &previous,
        body,
        explicit_managed_fields,
        options,
    )
}

#[allow(clippy::too_many_arguments)]
fn write_new_state(
    st: &mut State,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    previous: &Value,
    body: Value,
    explicit_managed_fields: Option<Value>,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let mut object = if options.subresource.as_deref() == Some("status") {
        let mut o = previous.clone();
        o["status"] = body.get("status").cloned().unwrap_or_else(|| json!({}));
        prepare(rt, ns, name, Some(previous), o, Some("status"))?
    } else {
        prepare(rt, ns, name, Some(previous), body, None)?
    };
    let previous_managed = previous["metadata"].get("managedFields").cloned();
    match explicit_managed_fields {
        Some(mf) if Some(&mf) != previous_managed.as_ref() => {
            object["metadata"]["managedFields"] = mf;
        }
        _ => {
            let time = now_timestamp();
            let api_version = rt.api_version();
            let mut entries = fields::read_entries(previous);
            let changed = fields::changed_paths(previous, &object);
            fields::record_update(
                &mut entries,
                &writer(options, &time, &api_version),
                &changed,
            );
            fields::prune_absent(&mut entries, &object);
            fields::write_entries(&mut object, &entries);
        }
    }
    if options.dry_run {
        return Ok(object);
    }
    if object_equal_ignoring_rv(previous, &object) {
        return Ok(previous.clone());
    }
    Ok(commit(st, rt, ns, name, object))
}

fn object_equal_ignoring_rv(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

/// PATCH in any of its flavours. Returns the object and whether it was created (apply only).
#[allow(clippy::too_many_arguments)]
pub fn patch(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    kind: PatchKind,
    body: &[u8],
    options: &WriteOptions,
) -> Result<(Value, bool), ApiError> {
    if kind == PatchKind::Apply {
        return apply(st, rt, namespace, name, body, options);
    }
    let ns = ns_key(rt, namespace);
    let previous = st
        .get(rt, &ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    let mut patched = previous.clone();
    match kind {
        PatchKind::Json => {
            let operations: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut patched, &operations).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchKind::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?;
            json_patch::merge(&mut patched, &p);
        }
        PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("invalid strategic merge patch: {e}"))
            })?;
            strategic::apply(&mut patched, &p)?;
        }
        PatchKind::Apply => return apply(st, rt, namespace, name, body, options),
    }
    if patched["metadata"]["resourceVersion"] != previous["metadata"]["resourceVersion"] {
        return Err(ApiError::stale(rt, name));
    }
    let explicit = patched["metadata"].get("managedFields").cloned();
    let result = write_new_state(st, rt, &ns, name, &previous, patched, explicit, options)?;
    Ok((result, false))
}

fn parse_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(_) => serde_yaml_ng::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
    }
}

/// Server-side apply: create-or-update with field ownership and conflict detection.
fn apply(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    body: &[u8],
    options: &WriteOptions,
) -> Result<(Value, bool), ApiError> {
    if options.manager.is_empty() {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml requires fieldManager parameter",
        ));
    }
    let mut applied = parse_apply_body(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request("apply patch must be an object"));
    }
    if let Some(n) = applied["metadata"]["name"].as_str()
        && !n.is_empty()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    if rt.has_status
        && options.subresource.as_deref() != Some("status")
        && let Some(o) = applied.as_object_mut()
    {
        o.remove("status");
    }
    let ns = ns_key(rt, namespace);
    let time = now_timestamp();
    let api_version = rt.api_version();
    let w = writer(options, &time, &api_version);
    let previous = st.get(rt, &ns, name).cloned();
    if let (Some(prev), Some(rv)) = (&previous, applied["metadata"]["resourceVersion"].as_str())
        && Some(rv) != prev["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::stale(rt, name));
    }
    let Some(previous) = previous else {
        require_namespace(st, rt, namespace)?;
        let outcome =
            fields::server_side_apply(&json!({}), &applied, Vec::new(), &w, options.force)
                .map_err(|c| ApiError::apply_conflicts(rt, name, &c))?;
        let mut object = prepare(rt, &ns, name, None, outcome.object, None)?;
        fields::write_entries(&mut object, &outcome.entries);
        if options.dry_run {
            return Ok((object, true));
        }
        if rt.kind == "Namespace" {
            let stored = commit(st, rt, &ns, name, object);
            create_default_service_account(st, name);
            return Ok((stored, true));
        }
        return Ok((commit(st, rt, &ns, name, object), true));
    };
    let outcome = fields::server_side_apply(
        &previous,
        &applied,
        fields::read_entries(&previous),
        &w,
        options.force,
    )
    .map_err(|c| ApiError::apply_conflicts(rt, name, &c))?;
    let mut object = prepare(
        rt,
        &ns,
        name,
        Some(&previous),
        outcome.object,
        options.subresource.as_deref(),
    )?;
    fields::write_entries(&mut object, &outcome.entries);
    if options.dry_run {
        return Ok((object, false));
    }
    if object_equal_ignoring_rv(&previous, &object)
        && previous["metadata"]["managedFields"] == object["metadata"]["managedFields"]
    {
        return Ok((previous, false));
    }
    Ok((commit(st, rt, &ns, name, object), false))
}

/// DELETE options (from a JSON or protobuf body and query parameters).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a DeleteOptions JSON object.
    pub fn from_json(v: &Value) -> Self {
        let orphan = v["orphanDependents"].as_bool() == Some(true);
        DeleteOptions {
            propagation_policy: v["propagationPolicy"]
                .as_str()
                .map(str::to_string)
                .or_else(|| orphan.then(|| "Orphan".to_string())),
            grace_period_seconds: v["gracePeriodSeconds"].as_i64(),
            precondition_uid: v["preconditions"]["uid"].as_str().map(str::to_string),
            precondition_resource_version: v["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
            dry_run: v["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "All")),
        }
    }
}

fn owned_by(object: &Value, uid: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
}

/// Deletes an object. Returns the response body (a Status, or the object when deletion is graceful).
pub fn delete(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let ns = ns_key(rt, namespace);
    let existing = st
        .get(rt, &ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    let uid = existing["metadata"]["uid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if let Some(want) = &options.precondition_uid
        && *want != uid
    {
        return Err(ApiError::conflict(
            rt,
            name,
            &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
        ));
    }
    if let Some(want) = &options.precondition_resource_version
        && Some(want.as_str()) != existing["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(
            rt,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                existing["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
            ),
        ));
    }
    if options.dry_run {
        return Ok(existing);
    }
    if rt.kind == "Namespace" {
        delete_namespace_contents(st, name);
        let mut gone = st.remove(rt, "", name).unwrap_or(existing);
        gone["metadata"]["deletionTimestamp"] = json!(now_timestamp());
        gone["status"]["phase"] = json!("Terminating");
        return Ok(gone);
    }
    let has_finalizers = existing["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    let grace = options.grace_period_seconds.unwrap_or(30);
    let graceful_pod =
        rt.kind == "Pod" && grace > 0 && !st.behaviour.pod_termination_grace.is_zero();
    if has_finalizers || graceful_pod {
        if existing["metadata"].get("deletionTimestamp").is_some() {
            return Ok(existing);
        }
        let mut marked = existing.clone();
        marked["metadata"]["deletionTimestamp"] = json!(now_timestamp());
        marked["metadata"]["deletionGracePeriodSeconds"] =
            json!(if graceful_pod { grace } else { 0 });
        let stored = st.put(rt, &ns, name, marked);
        if graceful_pod && !has_finalizers {
            let delay = st.behaviour.pod_termination_grace;
            st.schedule(
                delay,
                Timer::PodGone {
                    namespace: ns.clone(),
                    name: name.to_string(),
                    uid,
                },
            );
        }
        after_write(st, rt, &ns);
        return Ok(stored);
    }
    st.remove(rt, &ns, name);
    cascade(
        st,
        &ns,
        &uid,
        options.propagation_policy.as_deref() == Some("Orphan"),
    );
    after_write(st, rt, &ns);
    Ok(status::success_status(rt, name, &uid))
}

/// Deletes (or orphans) the dependents of a deleted owner in the same namespace.
fn cascade(st: &mut State, namespace: &str, owner_uid: &str, orphan: bool) {
    for rt in resources::RESOURCES.iter().filter(|r| r.namespaced) {
        let dependents: Vec<Value> = st
            .list(rt, Some(namespace))
            .into_iter()
            .filter(|o| owned_by(o, owner_uid))
            .cloned()
            .collect();
        for mut dependent in dependents {
            let name = dependent["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if orphan {
                if let Some(refs) = dependent["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != owner_uid);
                }
                st.put(rt, namespace, &name, dependent);
            } else {
                let _ = delete(st, rt, Some(namespace), &name, &DeleteOptions::default());
            }
        }
    }
}

fn delete_namespace_contents(st: &mut State, namespace: &str) {
    for rt in resources::RESOURCES.iter().filter(|r| r.namespaced) {
        let names: Vec<String> = st
            .list(rt, Some(namespace))
            .into_iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        for name in names {
            st.remove(rt, namespace, &name);
        }
    }
}

/// DELETE on a collection: deletes every matching object.
pub fn delete_collection(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    list_options: &ListOptions,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let listed: Vec<Value> = list(st, rt, namespace, list_options)?
        .items
        .into_iter()
        .cloned()
        .collect();
    let mut deleted = Vec::new();
    for item in listed {
        let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
        let ns = item["metadata"]["namespace"].as_str().map(str::to_string);
        if delete(st, rt, ns.as_deref(), &name, options).is_ok() {
            deleted.push(item);
        }
    }
    Ok(json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": st.resource_version().to_string()},
        "items": deleted,
    }))
}

/// The `scale` subresource view of a Deployment or ReplicaSet.
pub fn scale_of(object: &Value) -> Value {
    let selector: Vec<String> = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",")},
    })
}

/// Writes the `scale` subresource: only `spec.replicas` is taken.
pub fn write_scale(
    st: &mut State,
    rt: &'static ResourceType,
    namespace: Option<&str>,
    name: &str,
    scale: &Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let ns = ns_key(rt, namespace);
    let previous = st
        .get(rt, &ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    let replicas = scale["spec"]["replicas"]
        .as_i64()
        .ok_or_else(|| ApiError::bad_request("scale.spec.replicas is required"))?;
    let mut next = previous.clone();
    next["spec"]["replicas"] = json!(replicas);
    // As a real server's scale handler: the writer's entry says `subresource: scale` and owns
    // `spec.replicas`, taken from whoever owned it before.
    let scale = WriteOptions {
        subresource: Some("scale".into()),
        ..options.clone()
    };
    let stored = write_new_state(st, rt, &ns, name, &previous, next, None, &scale)?;
    Ok(scale_of(&stored))
}
