//! Per-kind defaulting and validation (what the real API server's strategies do for these kinds).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::status::Cause;
use crate::validate;

fn invalid(field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: message.into(),
        field: field.to_string(),
    }
}

fn forbidden(field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: "FieldValueForbidden",
        message: message.into(),
        field: field.to_string(),
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired",
        message: "Required value".to_string(),
        field: field.to_string(),
    }
}

/// Rejects bodies whose well-known fields have the wrong JSON shape (what decoding into the
/// typed object does on a real server), so later steps can rely on maps being maps.
pub fn check_shapes(rt: &ResourceType, object: &Value) -> Result<(), String> {
    let maps: &[&str] = match rt.kind {
        "Secret" => &["/data", "/stringData"],
        "ConfigMap" => &["/data", "/binaryData"],
        "Deployment" | "ReplicaSet" => &[
            "/spec",
            "/spec/selector",
            "/spec/template",
            "/spec/template/metadata",
            "/spec/template/spec",
        ],
        _ => &["/spec"],
    };
    let common = ["/metadata/labels", "/metadata/annotations", "/status"];
    for pointer in common.iter().chain(maps.iter()) {
        match object.pointer(pointer) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(format!(
                    "{}: expected an object, got {}",
                    pointer.trim_start_matches('/').replace('/', "."),
                    match other {
                        Value::Array(_) => "an array",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        _ => "a boolean",
                    }
                ));
            }
        }
    }
    for pointer in ["/metadata/labels", "/metadata/annotations"] {
        if let Some(Value::Object(m)) = object.pointer(pointer)
            && let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string())
        {
            return Err(format!(
                "{}[{k}]: expected a string",
                pointer.trim_start_matches('/').replace('/', ".")
            ));
        }
    }
    Ok(())
}

/// Defaults and normalisation applied to every write (create and update).
pub fn normalize(rt: &ResourceType, object: &mut Value) {
    match rt.kind {
        "Secret" => normalize_secret(object),
        "Deployment" => default_deployment(object),
        "Service" => default_service(object),
        "Namespace" => {
            let name = object["metadata"]["name"].clone();
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            if object
                .get("spec")
                .is_none_or(|s| s.as_object().is_none_or(Map::is_empty))
            {
                object["spec"] = json!({"finalizers": ["kubernetes"]});
            }
        }
        "ServiceAccount" | "ConfigMap" | "Role" | "ClusterRole" => {}
        _ => {}
    }
}

fn normalize_secret(object: &mut Value) {
    if let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default().to_string();
            object["data"][k] = json!(STANDARD.encode(text.as_bytes()));
        }
    }
    if object["type"].as_str().is_none_or(str::is_empty) {
        object["type"] = json!("Opaque");
    }
}

fn default_deployment(object: &mut Value) {
    let spec = &mut object["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec.get("replicas").is_none_or(Value::is_null) {
        spec["replicas"] = json!(1);
    }
    if spec.get("revisionHistoryLimit").is_none() {
        spec["revisionHistoryLimit"] = json!(10);
    }
    if spec.get("progressDeadlineSeconds").is_none() {
        spec["progressDeadlineSeconds"] = json!(600);
    }
    if spec.get("strategy").is_none() {
        spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
    }
}

fn default_service(object: &mut Value) {
    let uid = object["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let spec = &mut object["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec.get("type").is_none() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["type"] != "ExternalName" && spec.get("clusterIP").is_none_or(Value::is_null) {
        // A stable address derived from the uid: 10.96.x.y.
        let hash = uid
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let ip = format!("10.96.{}.{}", (hash >> 8) % 256, (hash % 254) + 1);
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
        spec["ipFamilies"] = json!(["IPv4"]);
        spec["ipFamilyPolicy"] = json!("SingleStack");
        spec["sessionAffinity"] = json!("None");
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports {
            if p.get("protocol").is_none() {
                p["protocol"] = json!("TCP");
            }
            if p.get("targetPort").is_none() {
                p["targetPort"] = p["port"].clone();
            }
        }
    }
}

fn check_keys(object: &Value, field: &str, causes: &mut Vec<Cause>) {
    if let Some(map) = object.get(field).and_then(Value::as_object) {
        for key in map.keys() {
            if let Some(c) = validate::data_key(field, key) {
                causes.push(c);
            }
        }
    }
}

/// Validation of a new object state against its previous state (if any).
pub fn validate(rt: &ResourceType, object: &Value, previous: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    if let Some(c) = validate::object_name(
        name,
        rt.label_names,
        rt.group == "rbac.authorization.k8s.io",
    ) {
        causes.push(c);
    }
    if let Some(labels) = object["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if !validate::label_key(k) {
                causes.push(invalid("metadata.labels", format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'")));
            }
            if !v.as_str().is_some_and(validate::label_value) {
                causes.push(invalid("metadata.labels", format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'")));
            }
        }
    }
    if let Some(annotations) = object["metadata"]["annotations"].as_object() {
        for (k, v) in annotations {
            if !validate::label_key(k) {
                causes.push(invalid("metadata.annotations", format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'")));
            }
            if !v.is_string() {
                causes.push(invalid(
                    "metadata.annotations",
                    format!("Invalid value: {v}: annotation values must be strings"),
                ));
            }
        }
    }
    match rt.kind {
        "Secret" => validate_secret(object, previous, &mut causes),
        "ConfigMap" => validate_config_map(object, previous, &mut causes),
        "Deployment" | "ReplicaSet" => validate_workload(object, &mut causes),
        _ => {}
    }
    causes
}

fn immutable_data(
    object: &Value,
    previous: Option<&Value>,
    fields: &[&str],
    causes: &mut Vec<Cause>,
) {
    let Some(prev) = previous else { return };
    if prev["immutable"] != json!(true) {
        return;
    }
    if object["immutable"] != json!(true) {
        causes.push(forbidden(
            "immutable",
            "Forbidden: field is immutable when `immutable` is set",
        ));
    }
    for f in fields {
        if object.get(*f) != prev.get(*f) {
            causes.push(forbidden(
                f,
                "Forbidden: field is immutable when `immutable` is set",
            ));
        }
    }
}

fn validate_secret(object: &Value, previous: Option<&Value>, causes: &mut Vec<Cause>) {
    check_keys(object, "data", causes);
    if let Some(data) = object["data"].as_object() {
        for (k, v) in data {
            let ok = v.as_str().is_some_and(|s| STANDARD.decode(s).is_ok());
            if !ok {
                causes.push(invalid(
                    &format!("data[{k}]"),
                    "Invalid value: illegal base64 data",
                ));
            }
        }
    }
    let kind = object["type"].as_str().unwrap_or("Opaque");
    if kind == "kubernetes.io/tls" {
        for key in ["tls.crt", "tls.key"] {
            if object["data"].get(key).is_none() {
                causes.push(required(&format!("data[{key}]")));
            }
        }
    }
    if let Some(prev) = previous
        && prev["type"] != object["type"]
    {
        causes.push(invalid(
            "type",
            format!("Invalid value: \"{kind}\": field is immutable"),
        ));
    }
    immutable_data(object, previous, &["data", "type"], causes);
}

fn validate_config_map(object: &Value, previous: Option<&Value>, causes: &mut Vec<Cause>) {
    check_keys(object, "data", causes);
    check_keys(object, "binaryData", causes);
    if let (Some(d), Some(b)) = (object["data"].as_object(), object["binaryData"].as_object()) {
        for k in d.keys().filter(|k| b.contains_key(*k)) {
            causes.push(invalid(
                &format!("data[{k}]"),
                "Invalid value: duplicate of key present in binaryData",
            ));
        }
    }
    immutable_data(object, previous, &["data", "binaryData"], causes);
}

fn validate_workload(object: &Value, causes: &mut Vec<Cause>) {
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object);
    let Some(selector) = selector else {
        causes.push(required("spec.selector"));
        return;
    };
    let labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let matches = selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
    if !matches {
        causes.push(invalid(
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        ));
    }
    if object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        causes.push(required("spec.template.spec.containers"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;

    #[test]
    fn shapes_are_checked_before_use() {
        let secret = by_kind("Secret").expect("secret type");
        assert!(
            check_shapes(
                secret,
                &json!({"metadata": {"name": "s"}, "data": {"a": "Yg=="}})
            )
            .is_ok()
        );
        let err = check_shapes(secret, &json!({"metadata": {"name": "s"}, "data": "x"}))
            .expect_err("string data");
        assert_eq!(err, "data: expected an object, got a string");
        let cm = by_kind("ConfigMap").expect("configmap type");
        let err =
            check_shapes(cm, &json!({"metadata": {"labels": {"a": 1}}})).expect_err("number label");
        assert_eq!(err, "metadata.labels[a]: expected a string");
        let deploy = by_kind("Deployment").expect("deployment type");
        assert!(check_shapes(deploy, &json!({"spec": {"template": "x"}})).is_err());
    }

    #[test]
    fn secrets_are_normalised_and_validated() {
        let secret = by_kind("Secret").expect("secret type");
        let mut s = json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}, "type": ""});
        normalize(secret, &mut s);
        assert_eq!(s["data"]["k"], "dg==");
        assert_eq!(s["type"], "Opaque");
        assert!(s.get("stringData").is_none());
        assert!(validate(secret, &s, None).is_empty());
        let mut tls = json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        normalize(secret, &mut tls);
        let causes = validate(secret, &tls, None);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "data[tls.key]");
    }
}
