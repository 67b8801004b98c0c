//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! Ownership is tracked per leaf field path. Maps are walked into; lists are atomic
//! (a list is one leaf), which is coarser than the real server for associative lists
//! but detects the same conflicts for the fields helm and kubectl touch.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// A path of map keys from the object root.
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
        [m] if m == "metadata" => IGNORED_METADATA.contains(&key),
        _ => false,
    }
}

fn collect_leaves(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                if ignored(path, k) {
                    continue;
                }
                path.push(k.clone());
                collect_leaves(v, path, out);
                path.pop();
            }
        }
        Value::Null => {}
        _ => {
            if !path.is_empty() {
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
                path.push(k.clone());
                collect_changes(a.get(k), b.get(k), path, out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (_, Some(b @ Value::Object(m))) if !m.is_empty() => collect_leaves(b, path, out),
        (_, Some(_)) => {
            if !path.is_empty() {
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

/// The value at a path, if present.
pub fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

/// Removes the value at a path (no-op when absent).
pub fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = value;
    for k in parents {
        match cursor.get_mut(k) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Value::Object(m) = cursor {
        m.remove(last);
    }
}

/// `.data.greeting` style display of a path.
pub fn display(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Encodes a set as a `FieldsV1` tree: `{"f:data":{"f:greeting":{}}}`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cursor = &mut root;
        for k in path {
            let entry = cursor
                .entry(format!("f:{k}"))
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = entry else { break };
            cursor = next;
        }
    }
    Value::Object(root)
}

fn walk_fields_v1(node: &Map<String, Value>, path: &mut FieldPath, out: &mut FieldSet) {
    let children: Vec<(&String, &Value)> = node.iter().filter(|(k, _)| k.as_str() != ".").collect();
    let has_keyed = children.iter().any(|(k, _)| !k.starts_with("f:"));
    if (children.is_empty() || has_keyed) && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (k, v) in children {
        if let (Some(name), Value::Object(child)) = (k.strip_prefix("f:"), v) {
            path.push(name.to_string());
            walk_fields_v1(child, path, out);
            path.pop();
        }
    }
}

/// Decodes a `FieldsV1` tree; list item keys (`k:`, `v:`, `i:`) make their list one leaf.
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
        e.manager == writer.manager && e.operation == "Update" && e.subresource.is_none()
    });
    let entry = match idx {
        Some(i) => &mut entries[i],
        None => {
            entries.push(ManagerEntry {
                manager: writer.manager.to_string(),
                operation: "Update".into(),
                api_version: writer.api_version.to_string(),
                time: String::new(),
                subresource: None,
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

/// Deep-merges an applied configuration into an object: maps merge, everything else replaces.
fn merge_applied(target: &mut Value, applied: &Value, path: &mut FieldPath) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                if ignored(path, k) || v.is_null() {
                    continue;
                }
                path.push(k.clone());
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_applied(existing, v, path)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
                path.pop();
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
                let longer = if p.len() >= q.len() { p } else { q };
                if value_at(live, longer) != value_at(applied, longer) {
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
        let still_applied = applied_fields.iter().any(|q| p.starts_with(q));
        let owned_by_others = entries
            .iter()
            .filter(|e| !mine(e))
            .any(|e| e.fields.iter().any(|o| overlaps(o, p)));
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
        assert_eq!(
            from_fields_v1(&keyed)
                .into_iter()
                .next()
                .expect("test value"),
            vec!["spec", "containers"]
        );
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
}
