//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Ownership is tracked per leaf field path, in the `FieldsV1` vocabulary: a path is a list of
//! tokens, `f:<field>` for map fields and `k:{"name":"web"}` for items of associative lists
//! (lists with a merge key: containers and env by name, volumeMounts by mountPath, ...). A path
//! ending in a `k:` token marks the item's existence (the `"."` entry of `FieldsV1`). Other lists
//! are atomic (one leaf).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::strategic::merge_key;

/// A path of `f:`/`k:` tokens from the object root.
pub type FieldPath = Vec<String>;
/// A set of owned leaf paths.
pub type FieldSet = BTreeSet<FieldPath>;

const IGNORED_ROOT: &[&str] = &["apiVersion", "kind", "status"];
const IGNORED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

fn ignored(path: &[String], key: &str) -> bool {
    match path {
        [] => IGNORED_ROOT.contains(&key),
        [m] if m == "f:metadata" => IGNORED_METADATA.contains(&key),
        _ => false,
    }
}

fn field_token(name: &str) -> String {
    format!("f:{name}")
}

/// Whether a path ends at a list item (an existence marker rather than a value).
fn is_marker(path: &[String]) -> bool {
    path.last().is_some_and(|t| t.starts_with("k:"))
}

/// The merge key of a list field, if its items can be addressed by it.
fn list_key(field_token: Option<&String>, items: &[Value]) -> Option<&'static str> {
    let name = field_token?.strip_prefix("f:")?;
    let sample: Vec<&Value> = items.iter().collect();
    let key = merge_key(name, &sample)?;
    items
        .iter()
        .all(|i| i.get(key).is_some_and(|v| !v.is_null()))
        .then_some(key)
}

fn item_token(key: &str, item: &Value) -> String {
    format!("k:{}", json!({ key: item[key] }))
}

fn collect_leaves(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                if ignored(path, k) {
                    continue;
                }
                path.push(field_token(k));
                collect_leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() && list_key(path.last(), items).is_some() => {
            let key = list_key(path.last(), items).unwrap_or("name");
            for item in items {
                path.push(item_token(key, item));
                out.insert(path.clone());
                collect_leaves(item, path, out);
                path.pop();
            }
        }
        Value::Null => {}
        _ => {
            if !path.is_empty() && !is_marker(path) {
                out.insert(path.clone());
            }
        }
    }
}

/// Every leaf path set in `value` (server-owned fields excluded).
pub fn leaf_paths(value: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    collect_leaves(value, &mut Vec::new(), &mut out);
    out
}

fn collect_changes(
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut FieldPath,
    out: &mut FieldSet,
) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) if !a.is_empty() && !b.is_empty() => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if ignored(path, k) {
                    continue;
                }
                path.push(field_token(k));
                collect_changes(a.get(k), b.get(k), path, out);
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b)))
            if a != b
                && !b.is_empty()
                && list_key(path.last(), b).is_some()
                && (a.is_empty() || list_key(path.last(), a).is_some()) =>
        {
            let key = list_key(path.last(), b).unwrap_or("name");
            for item in b {
                let previous = a.iter().find(|o| o.get(key) == item.get(key));
                path.push(item_token(key, item));
                if previous.is_none() {
                    out.insert(path.clone());
                }
                collect_changes(previous, Some(item), path, out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (_, Some(b @ Value::Object(m))) if !m.is_empty() => collect_leaves(b, path, out),
        (_, Some(b @ Value::Array(items)))
            if !items.is_empty() && list_key(path.last(), items).is_some() =>
        {
            collect_leaves(b, path, out)
        }
        (_, Some(_)) => {
            if !path.is_empty() && !is_marker(path) {
                out.insert(path.clone());
            }
        }
        (_, None) => {}
    }
}

/// Leaf paths whose value differs between `old` and `new` and that are present in `new`.
pub fn changed_paths(old: &Value, new: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    collect_changes(Some(old), Some(new), &mut Vec::new(), &mut out);
    out
}

fn item_matches(item: &Value, token: &str) -> bool {
    let Some(Ok(Value::Object(keys))) = token.strip_prefix("k:").map(serde_json::from_str::<Value>)
    else {
        return false;
    };
    keys.iter().all(|(k, v)| item.get(k) == Some(v))
}

/// The value at a path, if present.
pub fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, token| match token.strip_prefix("f:") {
            Some(name) => v.get(name),
            None => v.as_array()?.iter().find(|item| item_matches(item, token)),
        })
}

fn value_at_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter()
        .try_fold(value, |v, token| match token.strip_prefix("f:") {
            Some(name) => v.get_mut(name),
            None => v
                .as_array_mut()?
                .iter_mut()
                .find(|item| item_matches(item, token)),
        })
}

/// Removes the value (or list item) at a path (no-op when absent).
pub fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(value, parents) else {
        return;
    };
    match (last.strip_prefix("f:"), parent) {
        (Some(name), Value::Object(m)) => {
            m.remove(name);
        }
        (None, Value::Array(items)) => items.retain(|item| !item_matches(item, last)),
        _ => {}
    }
}

/// `.spec.containers[name="web"].image` style display of a path.
pub fn display(path: &[String]) -> String {
    path.iter()
        .map(|token| match token.strip_prefix("f:") {
            Some(name) => format!(".{name}"),
            None => {
                let keys = token
                    .strip_prefix("k:")
                    .and_then(|k| serde_json::from_str::<Map<String, Value>>(k).ok())
                    .unwrap_or_default();
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
        })
        .collect()
}

/// Whether ownership of `a` and `b` intersects: the same path, or one inside the other where the
/// shorter one is a value (an existence marker of a list item does not own the item's fields).
fn overlaps(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && (short.len() == long.len() || !is_marker(short))
}

fn insert_path(node: &mut Map<String, Value>, path: &[String], marker: bool) {
    match path.split_first() {
        None => {
            if marker {
                node.insert(".".into(), json!({}));
            }
        }
        Some((token, rest)) => {
            let entry = node
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = entry {
                insert_path(child, rest, marker);
            }
        }
    }
}

/// Encodes a set as a `FieldsV1` tree: `{"f:data":{"f:greeting":{}}}`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        insert_path(&mut root, path, is_marker(path));
    }
    Value::Object(root)
}

fn walk_fields_v1(node: &Map<String, Value>, path: &mut FieldPath, out: &mut FieldSet) {
    if node.contains_key(".") && is_marker(path) {
        out.insert(path.clone());
    }
    let children: Vec<(&String, &Value)> = node.iter().filter(|(k, _)| k.as_str() != ".").collect();
    let atomic = children
        .iter()
        .any(|(k, _)| !(k.starts_with("f:") || k.starts_with("k:")));
    if (children.is_empty() || atomic) && !path.is_empty() {
        if !is_marker(path) {
            out.insert(path.clone());
        }
        return;
    }
    for (token, v) in children {
        if let Value::Object(child) = v {
            path.push(token.clone());
            walk_fields_v1(child, path, out);
            path.pop();
        }
    }
}

/// Decodes a `FieldsV1` tree; `v:`/`i:` items make their list one atomic leaf.
pub fn from_fields_v1(value: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Value::Object(m) = value {
        walk_fields_v1(m, &mut Vec::new(), &mut out);
    }
    out
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// Reads `metadata.managedFields`.
pub fn read_entries(object: &Value) -> Vec<ManagerEntry> {
    let Some(items) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items
        .iter()
        .map(|e| ManagerEntry {
            manager: e["manager"].as_str().unwrap_or("").to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
            time: e["time"].as_str().unwrap_or("").to_string(),
            subresource: e["subresource"].as_str().map(str::to_string),
            fields: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

/// Writes `metadata.managedFields` (entries with no fields are dropped).
pub fn write_entries(object: &mut Value, entries: &[ManagerEntry]) {
    let items: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(s) = &e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if items.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(items));
        }
    }
}

/// Who is writing, for ownership bookkeeping.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub time: &'a str,
    /// `status` or `scale` when the write went through a subresource: a real server keeps such
    /// writes in their own entry (`subresource: scale`), apart from the same manager's others.
    pub subresource: Option<&'a str>,
}

/// Drops from every entry the fields the object no longer has: a real server takes a removed
/// field away from whoever owned it (an env var deleted by a patch is owned by no one).
pub fn prune_absent(entries: &mut Vec<ManagerEntry>, object: &Value) {
    for e in entries.iter_mut() {
        e.fields.retain(|p| value_at(object, p).is_some());
    }
    entries.retain(|e| !e.fields.is_empty());
}

/// Records an update (non-apply write): the writer takes the fields it changed from everyone.
pub fn record_update(entries: &mut Vec<ManagerEntry>, writer: &Writer<'_>, changed: &FieldSet) {
    if changed.is_empty() {
        return;
    }
    for e in entries.iter_mut() {
        e.fields.retain(|p| !changed.iter().any(|c| overlaps(p, c)));
    }
    let idx = entries.iter().position(|e| {
        e.manager == writer.manager
            && e.operation == "Update"
            && e.subresource.as_deref() == writer.subresource
    });
    let entry = match idx {
        Some(i) => &mut entries[i],
        None => {
            entries.push(ManagerEntry {
                manager: writer.manager.to_string(),
                operation: "Update".into(),
                api_version: writer.api_version.to_string(),
                time: String::new(),
                subresource: writer.subresource.map(str::to_string),
                fields: FieldSet::new(),
            });
            let last = entries.len() - 1;
            &mut entries[last]
        }
    };
    entry.fields.extend(changed.iter().cloned());
    entry.time = writer.time.to_string();
    entries.retain(|e| !e.fields.is_empty());
}

/// Deep-merges an applied configuration into an object: maps merge, associative lists merge
/// item by item, everything else replaces.
fn merge_applied(target: &mut Value, applied: &Value, path: &mut FieldPath) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                if ignored(path, k) || v.is_null() {
                    continue;
                }
                path.push(field_token(k));
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_applied(existing, v, path)
                    }
                    Some(existing @ Value::Array(_)) if matches!(v, Value::Array(_)) => {
                        merge_applied(existing, v, path)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
                path.pop();
            }
        }
        (Value::Array(t), Value::Array(a)) => {
            let keyed = list_key(path.last(), a)
                .filter(|_| t.is_empty() || list_key(path.last(), t).is_some());
            match keyed {
                Some(key) => {
                    for item in a {
                        match t.iter_mut().find(|e| e.get(key) == item.get(key)) {
                            Some(existing) => {
                                path.push(item_token(key, item));
                                merge_applied(existing, item, path);
                                path.pop();
                            }
                            None => t.push(item.clone()),
                        }
                    }
                }
                None => *t = a.clone(),
            }
        }
        (t, a) => *t = a.clone(),
    }
}

/// The outcome of a server-side apply on an existing object.
#[derive(Debug)]
pub struct Applied {
    pub object: Value,
    pub entries: Vec<ManagerEntry>,
}

/// Server-side apply of `applied` onto `live` by `writer`. Conflicts are `(manager, ".field")`.
pub fn server_side_apply(
    live: &Value,
    applied: &Value,
    mut entries: Vec<ManagerEntry>,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Applied, Vec<(String, String)>> {
    let applied_fields = leaf_paths(applied);
    let mine = |e: &ManagerEntry| e.manager == writer.manager && e.operation == "Apply";
    let mut conflicts: Vec<(String, String)> = Vec::new();
    let mut conflicting_paths: Vec<(usize, FieldPath)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if mine(e) {
            continue;
        }
        for p in &e.fields {
            for q in applied_fields.iter().filter(|q| overlaps(p, q)) {
                let (shorter, longer) = if p.len() >= q.len() { (q, p) } else { (p, q) };
                // Owning a map as a whole (e.g. `spec: {}`) does not own the fields inside it.
                let map_owner = shorter.len() < longer.len()
                    && (value_at(applied, shorter).is_some_and(Value::is_object)
                        || value_at(live, shorter).is_some_and(Value::is_object));
                if !map_owner
                    && !is_marker(longer)
                    && value_at(live, longer) != value_at(applied, longer)
                {
                    let item = (e.manager.clone(), display(longer));
                    if !conflicts.contains(&item) {
                        conflicts.push(item);
                    }
                    conflicting_paths.push((i, p.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for (i, p) in conflicting_paths {
        entries[i].fields.remove(&p);
    }
    let previously_mine: FieldSet = entries
        .iter()
        .filter(|e| mine(e))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut object = live.clone();
    for p in previously_mine.difference(&applied_fields) {
        let still_applied = applied_fields
            .iter()
            .any(|q| p.starts_with(q) && !is_marker(q));
        let owned_by_others = entries.iter().filter(|e| !mine(e)).any(|e| {
            e.fields
                .iter()
                .any(|o| o.starts_with(p) || (p.starts_with(o) && !is_marker(o)))
        });
        if !still_applied && !owned_by_others {
            remove_at(&mut object, p);
        }
    }
    merge_applied(&mut object, applied, &mut Vec::new());
    match entries.iter().position(mine) {
        Some(i) => {
            if entries[i].fields != applied_fields || object != *live {
                entries[i].time = writer.time.to_string();
            }
            entries[i].fields = applied_fields;
            entries[i].api_version = writer.api_version.to_string();
        }
        None => entries.push(ManagerEntry {
            manager: writer.manager.to_string(),
            operation: "Apply".into(),
            api_version: writer.api_version.to_string(),
            time: writer.time.to_string(),
            subresource: None,
            fields: applied_fields,
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    Ok(Applied { object, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(m: &str) -> Writer<'_> {
        Writer {
            manager: m,
            api_version: "v1",
            time: "2026-01-01T00:00:00Z",
            subresource: None,
        }
    }

    #[test]
    fn fields_v1_round_trip() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}, "data": {"k": "v"}, "list": [1]});
        let set = leaf_paths(&obj);
        assert_eq!(set.len(), 3);
        let encoded = to_fields_v1(&set);
        assert_eq!(encoded["f:data"]["f:k"], json!({}));
        assert_eq!(from_fields_v1(&encoded), set);
        let keyed =
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}});
        let decoded: Vec<String> = from_fields_v1(&keyed).iter().map(|p| display(p)).collect();
        assert_eq!(
            decoded,
            [
                ".spec.containers[name=\"web\"]",
                ".spec.containers[name=\"web\"].image"
            ]
        );
        assert_eq!(to_fields_v1(&from_fields_v1(&keyed)), keyed);
    }

    #[test]
    fn apply_conflicts_with_other_manager_and_force_takes_over() {
        let live0 = json!({"metadata": {"name": "c"}, "data": {"greeting": "hi", "x": "1"}});
        let created = server_side_apply(&json!({}), &live0, vec![], &writer("helm"), false)
            .expect("test value");
        let mut entries = created.entries;
        let mut edited = created.object.clone();
        edited["data"]["greeting"] = json!("edited");
        record_update(
            &mut entries,
            &writer("kubectl-edit"),
            &changed_paths(&created.object, &edited),
        );
        write_entries(&mut edited, &entries);
        let again = json!({"metadata": {"name": "c"}, "data": {"greeting": "hello", "x": "1"}});
        let err = server_side_apply(
            &edited,
            &again,
            read_entries(&edited),
            &writer("helm"),
            false,
        )
        .expect_err("expected an error");
        assert_eq!(
            err,
            vec![("kubectl-edit".to_string(), ".data.greeting".to_string())]
        );
        let forced = server_side_apply(
            &edited,
            &again,
            read_entries(&edited),
            &writer("helm"),
            true,
        )
        .expect("test value");
        assert_eq!(forced.object["data"]["greeting"], "hello");
        assert!(forced.entries.iter().all(|e| e.manager == "helm"));
    }

    #[test]
    fn apply_removes_fields_the_manager_dropped() {
        let first = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let created = server_side_apply(&json!({}), &first, vec![], &writer("helm"), false)
            .expect("test value");
        let second = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let updated = server_side_apply(
            &created.object,
            &second,
            created.entries,
            &writer("helm"),
            false,
        )
        .expect("test value");
        assert_eq!(updated.object["data"], json!({"a": "1"}));
    }

    fn deployment(image: &str, env: Value) -> Value {
        json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": image, "env": env}, {"name": "side", "image": "busybox"}]}}}})
    }

    #[test]
    fn associative_lists_merge_per_item() {
        let first = deployment("nginx:1", json!([{"name": "A", "value": "1"}]));
        let created =
            server_side_apply(&json!({}), &first, vec![], &writer("helm"), false).expect("create");
        // An editor adds an env var: helm's next apply keeps it and does not conflict.
        let mut edited = created.object.clone();
        edited["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}, {"name": "EXTRA", "value": "x"}]);
        let mut entries = created.entries;
        record_update(
            &mut entries,
            &writer("kubectl-edit"),
            &changed_paths(&created.object, &edited),
        );
        let again = deployment("nginx:2", json!([{"name": "A", "value": "1"}]));
        let applied = server_side_apply(&edited, &again, entries.clone(), &writer("helm"), false)
            .expect("no conflict");
        let env = &applied.object["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([{"name": "A", "value": "1"}, {"name": "EXTRA", "value": "x"}])
        );
        assert_eq!(
            applied.object["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
        // An editor changes the image: helm's apply with another image conflicts on that field only.
        let mut edited = applied.object.clone();
        edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:1");
        let helm_entries = applied.entries.clone();
        let mut entries = applied.entries;
        record_update(
            &mut entries,
            &writer("kubectl-edit"),
            &changed_paths(&applied.object, &edited),
        );
        let err = server_side_apply(&edited, &again, entries, &writer("helm"), false)
            .expect_err("conflict");
        assert_eq!(
            err,
            vec![(
                "kubectl-edit".to_string(),
                ".spec.template.spec.containers[name=\"web\"].image".to_string()
            )]
        );
        // Helm dropping the side container removes it.
        let only_web = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
        let dropped = server_side_apply(
            &applied.object,
            &only_web,
            helm_entries,
            &writer("helm"),
            false,
        )
        .expect("apply");
        let names: Vec<&str> = dropped.object["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["web"]);
    }

    #[test]
    fn applying_an_empty_map_does_not_claim_its_fields() {
        let live = json!({"metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut entries = Vec::new();
        record_update(&mut entries, &writer("creator"), &leaf_paths(&live));
        let applied = json!({"metadata": {"name": "ns", "labels": {"name": "ns"}}, "spec": {}});
        let outcome = server_side_apply(&live, &applied, entries, &writer("helm"), false)
            .expect("no conflict");
        assert_eq!(outcome.object["spec"]["finalizers"], json!(["kubernetes"]));
    }
}
