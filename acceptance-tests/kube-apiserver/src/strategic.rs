//! Strategic merge patch for the built-in kinds this server serves.
//!
//! Lists of objects are merged by the merge keys the real API types declare
//! (`containers`/`env`/`volumes` by `name`, `volumeMounts` by `mountPath`, ports by port number,
//! ...); other lists are replaced. The directives `$patch`, `$setElementOrder/<list>`,
//! `$retainKeys` and `$deleteFromPrimitiveList/<list>` are honoured, and `null` deletes a key.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// The merge key for a list field, chosen by field name (and, for `ports`, by content).
pub(crate) fn merge_key(field: &str, sample: &[&Value]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ports" => {
            if sample.iter().any(|v| v.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        _ => None,
    }
}

/// Applies a strategic merge patch to `target` in place.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let patch = patch
        .as_object()
        .ok_or_else(|| ApiError::bad_request("strategic merge patch must be a JSON object"))?;
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target
        && merge_map(map, patch)? == MapOutcome::Delete
    {
        *target = Value::Object(Map::new());
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum MapOutcome {
    Keep,
    Delete,
}

/// Removes every `$`-directive from a value taken from the patch as is.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|v| v.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<MapOutcome, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            if let Value::Object(m) = strip_directives(&Value::Object(patch.clone())) {
                *target = m;
            }
            return Ok(MapOutcome::Keep);
        }
        Some("delete") => return Ok(MapOutcome::Delete),
        Some("merge") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unknown patch type: {other}"
            )));
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain
            .as_array()
            .ok_or_else(|| ApiError::bad_request("$retainKeys must be a list"))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    let mut orders: Vec<(&str, &Vec<Value>)> = Vec::new();
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$setElementOrder/") {
            if let Value::Array(order) = value {
                orders.push((list, order));
            }
            continue;
        }
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(current)), Value::Array(remove)) =
                (target.get_mut(list), value)
            {
                current.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(patch_child) => match target.get_mut(key) {
                Some(Value::Object(child)) => {
                    if merge_map(child, patch_child)? == MapOutcome::Delete {
                        target.remove(key);
                    }
                }
                _ => {
                    if patch_child.get("$patch").and_then(Value::as_str) == Some("delete") {
                        target.remove(key);
                    } else {
                        target.insert(key.clone(), strip_directives(value));
                    }
                }
            },
            Value::Array(patch_items) => {
                let existing = target.remove(key);
                let merged = match existing {
                    Some(Value::Array(current)) => merge_list(key, current, patch_items)?,
                    _ => strip_directives(value)
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                };
                target.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                target.insert(key.clone(), scalar.clone());
            }
        }
    }
    for (list, order) in orders {
        if let Some(Value::Array(items)) = target.get_mut(list) {
            reorder(list, items, order);
        }
    }
    Ok(MapOutcome::Keep)
}

fn merge_list(
    field: &str,
    mut current: Vec<Value>,
    patch: &[Value],
) -> Result<Vec<Value>, ApiError> {
    if patch
        .iter()
        .any(|v| v.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|v| v.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    let sample: Vec<&Value> = current.iter().chain(patch.iter()).collect();
    let Some(key) = merge_key(field, &sample) else {
        return Ok(strip_directives(&Value::Array(patch.to_vec()))
            .as_array()
            .cloned()
            .unwrap_or_default());
    };
    if !current.iter().chain(patch.iter()).all(Value::is_object) {
        return Ok(patch.to_vec());
    }
    for item in patch {
        let id = item.get(key).cloned().unwrap_or(Value::Null);
        let position = current.iter().position(|c| c.get(key) == Some(&id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            current.retain(|c| c.get(key) != Some(&id));
            continue;
        }
        match (position, item) {
            (Some(i), Value::Object(patch_map)) => {
                if let Value::Object(existing) = &mut current[i]
                    && merge_map(existing, patch_map)? == MapOutcome::Delete
                {
                    current.remove(i);
                }
            }
            _ => current.push(strip_directives(item)),
        }
    }
    Ok(current)
}

/// Orders list items as `$setElementOrder` says; items it does not name keep their relative order after.
fn reorder(field: &str, items: &mut Vec<Value>, order: &[Value]) {
    let sample: Vec<&Value> = items.iter().chain(order.iter()).collect();
    let key = merge_key(field, &sample);
    let identity = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut ordered = Vec::with_capacity(items.len());
    let mut rest: Vec<Value> = std::mem::take(items);
    for wanted in order {
        let wanted_id = identity(wanted);
        if let Some(i) = rest.iter().position(|v| identity(v) == wanted_id) {
            ordered.push(rest.remove(i));
        }
    }
    ordered.extend(rest);
    *items = ordered;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_three_way_deployment_patch() {
        let mut live = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx", "env": [{"name": "GREETING", "value": "hi"}]},
            {"name": "side", "image": "busybox"}
        ]}}}});
        let patch = json!({"spec":{"replicas":2,"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"side"}],"containers":[{"$setElementOrder/env":[{"name":"GREETING"},{"name":"FOO"}],"env":[{"name":"FOO","value":"bar"}],"name":"web"}]}}}});
        apply(&mut live, &patch).expect("test value");
        assert_eq!(live["spec"]["replicas"], 2);
        let containers = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("test value");
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "nginx");
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "GREETING", "value": "hi"}, {"name": "FOO", "value": "bar"}])
        );
    }

    #[test]
    fn directives() {
        let mut live = json!({"data": {"a": "1", "b": "2"}, "list": [1, 2, 3],
            "spec": {"volumes": [{"name": "x"}, {"name": "y"}], "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"data": {"a": null, "c": "3"}, "$deleteFromPrimitiveList/list": [2],
            "spec": {"volumes": [{"name": "x", "$patch": "delete"}], "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        apply(&mut live, &patch).expect("test value");
        assert_eq!(live["data"], json!({"b": "2", "c": "3"}));
        assert_eq!(live["list"], json!([1, 3]));
        assert_eq!(live["spec"]["volumes"], json!([{"name": "y"}]));
        assert_eq!(live["spec"]["strategy"], json!({"type": "Recreate"}));
        let mut live2 = json!({"metadata": {"labels": {"a": "1"}}});
        apply(
            &mut live2,
            &json!({"metadata": {"labels": {"$patch": "replace", "b": "2"}}}),
        )
        .expect("test value");
        assert_eq!(live2["metadata"]["labels"], json!({"b": "2"}));
    }
}
