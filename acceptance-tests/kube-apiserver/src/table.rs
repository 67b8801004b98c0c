//! `meta.k8s.io/v1` Table responses, for clients that ask for them (`kubectl get` without `-o`,
//! `helm status`): a few columns per kind, like the real server prints.

use serde_json::{Value, json};

/// The Content-Type of Table responses.
pub const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether an Accept header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
}

fn age(object: &Value) -> String {
    let Some(created) = object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn count(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn column(name: &str, kind: &str, format: &str) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": "", "priority": 0})
}

fn columns(kind: &str) -> Vec<Value> {
    let mut cols = vec![column("Name", "string", "name")];
    match kind {
        "Pod" => cols.extend([
            column("Ready", "string", ""),
            column("Status", "string", ""),
            column("Restarts", "string", ""),
        ]),
        "Deployment" => cols.extend([
            column("Ready", "string", ""),
            column("Up-to-date", "string", ""),
            column("Available", "string", ""),
        ]),
        "ReplicaSet" => cols.extend([
            column("Desired", "integer", ""),
            column("Current", "integer", ""),
            column("Ready", "integer", ""),
        ]),
        "Namespace" => cols.push(column("Status", "string", "")),
        "Secret" => cols.extend([column("Type", "string", ""), column("Data", "string", "")]),
        "ConfigMap" => cols.push(column("Data", "string", "")),
        _ => {}
    }
    cols.push(column("Age", "string", ""));
    cols
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let mut row = vec![o["metadata"]["name"].clone()];
    let s = &o["status"];
    match kind {
        "Pod" => {
            let statuses = s["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| count(&c["restartCount"])).sum();
            let status = if o["metadata"].get("deletionTimestamp").is_some() {
                "Terminating".to_string()
            } else {
                s["phase"].as_str().unwrap_or("Pending").to_string()
            };
            row.extend([
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts.to_string()),
            ]);
        }
        "Deployment" => row.extend([
            json!(format!(
                "{}/{}",
                count(&s["readyReplicas"]),
                count(&o["spec"]["replicas"])
            )),
            json!(count(&s["updatedReplicas"]).to_string()),
            json!(count(&s["availableReplicas"]).to_string()),
        ]),
        "ReplicaSet" => row.extend([
            json!(count(&o["spec"]["replicas"])),
            json!(count(&s["replicas"])),
            json!(count(&s["readyReplicas"])),
        ]),
        "Namespace" => row.push(s["phase"].clone()),
        "Secret" => row.extend([
            o["type"].clone(),
            json!(o["data"].as_object().map_or(0, |m| m.len()).to_string()),
        ]),
        "ConfigMap" => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            row.push(json!(n.to_string()));
        }
        _ => {}
    }
    row.push(json!(age(o)));
    row
}

/// Renders objects as a Table; `include_object` is the `includeObject` query parameter.
pub fn render(
    kind: &str,
    objects: &[Value],
    list_metadata: Option<&Value>,
    include_object: Option<&str>,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(kind, o)});
            match include_object {
                Some("None") => {}
                Some("Object") => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    })
                }
            }
            row
        })
        .collect();
    let mut table = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns(kind),
        "rows": rows,
    });
    if let Some(m) = list_metadata {
        table["metadata"] = m.clone();
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows() {
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}]}});
        let t = render("Pod", &[pod], None, None);
        assert_eq!(t["rows"][0]["cells"][0], "p");
        assert_eq!(t["rows"][0]["cells"][1], "1/1");
        assert_eq!(t["rows"][0]["cells"][2], "Running");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json"));
    }
}
