//! Decoding of Kubernetes protobuf request bodies (the `k8s\0` envelope) into JSON objects.
//!
//! Typed clients (helm's release storage, `kubectl create secret`) write Secrets, ConfigMaps,
//! Namespaces and DeleteOptions this way; they are converted to the JSON form the rest of the
//! server works with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};

use crate::status::ApiError;

const MAGIC: &[u8] = b"k8s\0";

fn decode_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("unable to decode protobuf {what}: {e}"))
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|v| !v.is_empty())
}

fn time_to_json(t: &Option<meta::Time>) -> Option<Value> {
    let t = t.as_ref()?;
    let seconds = t.seconds.filter(|s| *s != 0)?;
    let dt = chrono::DateTime::from_timestamp(seconds, 0)?;
    Some(json!(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn string_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn object_meta(m: &meta::ObjectMeta) -> Value {
    let mut out = Map::new();
    let mut put_str = |key: &str, v: &Option<String>| {
        if let Some(s) = non_empty(v) {
            out.insert(key.to_string(), json!(s));
        }
    };
    put_str("name", &m.name);
    put_str("generateName", &m.generate_name);
    put_str("namespace", &m.namespace);
    put_str("uid", &m.uid);
    put_str("resourceVersion", &m.resource_version);
    if let Some(ts) = time_to_json(&m.creation_timestamp) {
        out.insert("creationTimestamp".into(), ts);
    }
    if !m.labels.is_empty() {
        out.insert("labels".into(), string_map(&m.labels));
    }
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), string_map(&m.annotations));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .iter()
            .map(|r| {
                let mut v = json!({
                    "apiVersion": r.api_version.clone().unwrap_or_default(),
                    "kind": r.kind.clone().unwrap_or_default(),
                    "name": r.name.clone().unwrap_or_default(),
                    "uid": r.uid.clone().unwrap_or_default(),
                });
                if let Some(c) = r.controller {
                    v["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    v["blockOwnerDeletion"] = json!(b);
                }
                v
            })
            .collect();
        out.insert("ownerReferences".into(), Value::Array(refs));
    }
    if !m.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(m.finalizers));
    }
    Value::Object(out)
}

fn secret(raw: &[u8]) -> Result<Value, ApiError> {
    let s = core::Secret::decode(raw).map_err(|e| decode_error("Secret", e))?;
    let mut v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": s.metadata.as_ref().map(object_meta).unwrap_or_else(|| json!({}))});
    if !s.data.is_empty() {
        v["data"] = Value::Object(
            s.data
                .iter()
                .map(|(k, bytes)| (k.clone(), json!(STANDARD.encode(bytes))))
                .collect(),
        );
    }
    if !s.string_data.is_empty() {
        v["stringData"] = string_map(&s.string_data);
    }
    if let Some(t) = non_empty(&s.r#type) {
        v["type"] = json!(t);
    }
    if let Some(i) = s.immutable {
        v["immutable"] = json!(i);
    }
    Ok(v)
}

fn config_map(raw: &[u8]) -> Result<Value, ApiError> {
    let c = core::ConfigMap::decode(raw).map_err(|e| decode_error("ConfigMap", e))?;
    let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": c.metadata.as_ref().map(object_meta).unwrap_or_else(|| json!({}))});
    if !c.data.is_empty() {
        v["data"] = string_map(&c.data);
    }
    if !c.binary_data.is_empty() {
        v["binaryData"] = Value::Object(
            c.binary_data
                .iter()
                .map(|(k, bytes)| (k.clone(), json!(STANDARD.encode(bytes))))
                .collect(),
        );
    }
    if let Some(i) = c.immutable {
        v["immutable"] = json!(i);
    }
    Ok(v)
}

fn namespace(raw: &[u8]) -> Result<Value, ApiError> {
    let n = core::Namespace::decode(raw).map_err(|e| decode_error("Namespace", e))?;
    Ok(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": n.metadata.as_ref().map(object_meta).unwrap_or_else(|| json!({}))}),
    )
}

fn service_account(raw: &[u8]) -> Result<Value, ApiError> {
    let sa = core::ServiceAccount::decode(raw).map_err(|e| decode_error("ServiceAccount", e))?;
    let mut v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa.metadata.as_ref().map(object_meta).unwrap_or_else(|| json!({}))});
    if !sa.secrets.is_empty() {
        v["secrets"] = Value::Array(
            sa.secrets
                .iter()
                .map(|r| json!({"name": r.name.clone().unwrap_or_default()}))
                .collect(),
        );
    }
    if !sa.image_pull_secrets.is_empty() {
        v["imagePullSecrets"] = Value::Array(
            sa.image_pull_secrets
                .iter()
                .map(|r| json!({"name": r.name.clone().unwrap_or_default()}))
                .collect(),
        );
    }
    if let Some(a) = sa.automount_service_account_token {
        v["automountServiceAccountToken"] = json!(a);
    }
    Ok(v)
}

fn policy_rules(rules: &[rbac::PolicyRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut v = json!({"verbs": r.verbs});
                let mut put = |key: &str, list: &Vec<String>| {
                    if !list.is_empty() {
                        v[key] = json!(list);
                    }
                };
                put("apiGroups", &r.api_groups);
                put("resources", &r.resources);
                put("resourceNames", &r.resource_names);
                put("nonResourceURLs", &r.non_resource_ur_ls);
                v
            })
            .collect(),
    )
}

fn role_ref(r: &Option<rbac::RoleRef>) -> Value {
    let r = r.clone().unwrap_or_default();
    json!({"apiGroup": r.api_group.unwrap_or_default(), "kind": r.kind.unwrap_or_default(), "name": r.name.unwrap_or_default()})
}

fn subjects(list: &[rbac::Subject]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                let mut v = json!({"kind": s.kind.clone().unwrap_or_default(), "name": s.name.clone().unwrap_or_default()});
                if let Some(g) = non_empty(&s.api_group) {
                    v["apiGroup"] = json!(g);
                }
                if let Some(n) = non_empty(&s.namespace) {
                    v["namespace"] = json!(n);
                }
                v
            })
            .collect(),
    )
}

fn rbac_object(kind: &str, raw: &[u8]) -> Result<Value, ApiError> {
    let head = |meta: &Option<meta::ObjectMeta>| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
               "metadata": meta.as_ref().map(object_meta).unwrap_or_else(|| json!({}))})
    };
    match kind {
        "Role" => {
            let r = rbac::Role::decode(raw).map_err(|e| decode_error(kind, e))?;
            let mut v = head(&r.metadata);
            v["rules"] = policy_rules(&r.rules);
            Ok(v)
        }
        "ClusterRole" => {
            let r = rbac::ClusterRole::decode(raw).map_err(|e| decode_error(kind, e))?;
            let mut v = head(&r.metadata);
            v["rules"] = policy_rules(&r.rules);
            Ok(v)
        }
        "RoleBinding" => {
            let b = rbac::RoleBinding::decode(raw).map_err(|e| decode_error(kind, e))?;
            let mut v = head(&b.metadata);
            v["roleRef"] = role_ref(&b.role_ref);
            v["subjects"] = subjects(&b.subjects);
            Ok(v)
        }
        _ => {
            let b = rbac::ClusterRoleBinding::decode(raw).map_err(|e| decode_error(kind, e))?;
            let mut v = head(&b.metadata);
            v["roleRef"] = role_ref(&b.role_ref);
            v["subjects"] = subjects(&b.subjects);
            Ok(v)
        }
    }
}

fn delete_options(raw: &[u8]) -> Result<Value, ApiError> {
    let d = meta::DeleteOptions::decode(raw).map_err(|e| decode_error("DeleteOptions", e))?;
    let mut v = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
    if let Some(g) = d.grace_period_seconds {
        v["gracePeriodSeconds"] = json!(g);
    }
    if let Some(p) = &d.preconditions {
        let mut pre = Map::new();
        if let Some(uid) = non_empty(&p.uid) {
            pre.insert("uid".into(), json!(uid));
        }
        if let Some(rv) = non_empty(&p.resource_version) {
            pre.insert("resourceVersion".into(), json!(rv));
        }
        v["preconditions"] = Value::Object(pre);
    }
    if let Some(o) = d.orphan_dependents {
        v["orphanDependents"] = json!(o);
    }
    if let Some(p) = non_empty(&d.propagation_policy) {
        v["propagationPolicy"] = json!(p);
    }
    if !d.dry_run.is_empty() {
        v["dryRun"] = json!(d.dry_run);
    }
    Ok(v)
}

/// Decodes a protobuf request body into the equivalent JSON object.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let payload = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ApiError::bad_request("protobuf body lacks the k8s\\0 prefix"))?;
    let unknown = Unknown::decode(payload).map_err(|e| decode_error("envelope", e))?;
    let kind = unknown
        .type_meta
        .as_ref()
        .and_then(|t| t.kind.clone())
        .unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    match kind.as_str() {
        "Secret" => secret(&raw),
        "ConfigMap" => config_map(&raw),
        "Namespace" => namespace(&raw),
        "ServiceAccount" => service_account(&raw),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => rbac_object(&kind, &raw),
        "DeleteOptions" => delete_options(&raw),
        other => Err(ApiError::unsupported_media_type(&format!(
            "application/vnd.kubernetes.protobuf (kind {other:?} not supported by this test server)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some("v1".into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    #[test]
    fn decodes_a_helm_release_secret() {
        let s = core::Secret {
            metadata: Some(meta::ObjectMeta {
                name: Some("sh.helm.release.v1.t1.v1".into()),
                namespace: Some(String::new()),
                labels: [("owner".to_string(), "helm".to_string())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            data: [("release".to_string(), b"H4sI".to_vec())]
                .into_iter()
                .collect(),
            r#type: Some("helm.sh/release.v1".into()),
            ..Default::default()
        };
        let v = decode(&envelope("Secret", s.encode_to_vec())).expect("test value");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.t1.v1");
        assert!(v["metadata"].get("namespace").is_none());
        assert_eq!(v["data"]["release"], STANDARD.encode(b"H4sI"));
        assert_eq!(v["type"], "helm.sh/release.v1");
    }

    #[test]
    fn decodes_empty_delete_options_and_rejects_garbage() {
        let v = decode(&envelope("DeleteOptions", vec![])).expect("test value");
        assert_eq!(v["kind"], "DeleteOptions");
        assert!(decode(b"{}").is_err());
        assert_eq!(
            decode(&envelope("Pod", vec![]))
                .expect_err("expected an error")
                .code,
            415
        );
    }
}
