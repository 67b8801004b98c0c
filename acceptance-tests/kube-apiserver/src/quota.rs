//! `ResourceQuota` object-count enforcement, as the real `ResourceQuota` admission plugin does it
//! for `count/<resource>[.<group>]` (and the core shorthands `pods`, `secrets`, `configmaps`,
//! `services`): a create that would exceed a quota's `spec.hard` in its namespace is refused with
//! the real 403 Forbidden Status. Compute resources (cpu, memory, …) are not enforced. The quota's
//! `status` (`hard`, `used`) is filled in when the quota is written, as the quota controller does
//! shortly after on a real cluster.

use serde_json::{Map, Value, json};

use crate::resources::{RESOURCES, ResourceType};
use crate::status::ApiError;
use crate::store::State;

/// The quota resource type.
fn quota_type() -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == "ResourceQuota")
}

/// The resource type a quota key counts: `count/deployments.apps`, `count/secrets`, or the core
/// shorthands for object counts.
fn counted_type(key: &str) -> Option<&'static ResourceType> {
    let name = match key.strip_prefix("count/") {
        Some(name) => name,
        None if matches!(
            key,
            "pods" | "secrets" | "configmaps" | "services" | "persistentvolumeclaims"
        ) =>
        {
            key
        }
        None => return None,
    };
    RESOURCES
        .iter()
        .find(|r| r.namespaced && r.qualified_plural() == name)
}

/// The quota keys that count `rt` (the long and, for the core group, the short form).
fn keys_for(rt: &ResourceType) -> Vec<String> {
    let mut keys = vec![format!("count/{}", rt.qualified_plural())];
    if rt.group.is_empty() {
        keys.push(rt.plural.to_owned());
    }
    keys
}

/// Objects of `rt` in `namespace` that count against a quota (terminating pods do not).
fn used(st: &State, rt: &ResourceType, namespace: &str) -> i64 {
    let count = st
        .list(rt, Some(namespace))
        .into_iter()
        .filter(|o| rt.kind != "Pod" || o["metadata"].get("deletionTimestamp").is_none())
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A quota quantity as a count (`"0"`, `"10"`, `"1k"`); `None` when it is not a plain count.
fn count_of(quantity: &Value) -> Option<i64> {
    match quantity {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            let (digits, factor) = match s.strip_suffix('k') {
                Some(d) => (d, 1000),
                None => (s, 1),
            };
            digits.parse::<i64>().ok().map(|n| n * factor)
        }
        _ => None,
    }
}

/// Refuses the creation of a `rt` named `name` in `namespace` when a quota there is used up.
pub fn admit_create(
    st: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let (Some(namespace), Some(quota_rt)) = (namespace, quota_type()) else {
        return Ok(());
    };
    let keys = keys_for(rt);
    for quota in st.list(quota_rt, Some(namespace)) {
        let Some(hard) = quota["spec"]["hard"].as_object() else {
            continue;
        };
        for key in &keys {
            let Some(limit) = hard.get(key).and_then(count_of) else {
                continue;
            };
            let in_use = used(st, rt, namespace);
            if in_use + 1 > limit {
                let quota_name = quota["metadata"]["name"].as_str().unwrap_or_default();
                return Err(exceeded(rt, name, quota_name, key, in_use, limit));
            }
        }
    }
    Ok(())
}

/// The real admission plugin's answer.
fn exceeded(
    rt: &ResourceType,
    name: &str,
    quota: &str,
    key: &str,
    used: i64,
    limit: i64,
) -> ApiError {
    let mut error = ApiError::new(
        403,
        "Forbidden",
        format!(
            "{} \"{name}\" is forbidden: exceeded quota: {quota}, requested: {key}=1, used: {key}={used}, limited: {key}={limit}",
            rt.qualified_plural()
        ),
    );
    error.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
    error
}

/// Fills a quota's `status.hard` (its `spec.hard`) and `status.used` (object counts now), as the
/// quota controller does after a quota is written.
pub fn refresh_status(st: &mut State, namespace: &str, name: &str) {
    let Some(quota_rt) = quota_type() else {
        return;
    };
    let Some(mut quota) = st.get(quota_rt, namespace, name).cloned() else {
        return;
    };
    let hard = quota["spec"]["hard"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut used_map = Map::new();
    for key in hard.keys() {
        let value = counted_type(key).map_or(0, |rt| used(st, rt, namespace));
        used_map.insert(key.clone(), json!(value.to_string()));
    }
    let status = json!({"hard": hard, "used": used_map});
    if quota.get("status") == Some(&status) {
        return;
    }
    quota["status"] = status;
    st.put(quota_rt, namespace, name, quota);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_counted_resource() {
        let deployments = counted_type("count/deployments.apps").expect("deployments");
        assert_eq!(deployments.kind, "Deployment");
        assert_eq!(counted_type("pods").map(|r| r.kind), Some("Pod"));
        assert_eq!(
            counted_type("count/secrets").map(|r| r.kind),
            Some("Secret")
        );
        assert!(counted_type("cpu").is_none());
        assert_eq!(keys_for(deployments), vec!["count/deployments.apps"]);
        assert_eq!(
            count_of(&json!("0")),
            Some(0),
            "quantities are strings on the wire"
        );
        assert_eq!(count_of(&json!("2k")), Some(2000));
        assert_eq!(count_of(&json!("100m")), None);
    }

    #[test]
    fn the_refusal_reads_as_the_real_admission_plugin_writes_it() {
        let deployments = counted_type("count/deployments.apps").expect("deployments");
        let error = exceeded(deployments, "x", "q", "count/deployments.apps", 0, 0);
        assert_eq!((error.code, error.reason), (403, "Forbidden"));
        assert_eq!(
            error.message,
            "deployments.apps \"x\" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0"
        );
    }
}
