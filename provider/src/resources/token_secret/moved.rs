//! `moved { from = kubernetes_secret_v1.x  to = gitlabrunner_token_secret.x }` (Terraform
//! 1.8+): the state the hashicorp/kubernetes provider stores for a `kubernetes_secret_v1` (or
//! the older `kubernetes_secret`; schema versions 0 and 1) — a `metadata` list block, the
//! `data` map in plain text, `binary_data` in base64, `type` — decoded into this resource's
//! state. The token is dropped: only its digests are kept (the configuration names the token,
//! `runner_token_wo` keeps it out of state for good).

use std::collections::BTreeMap;

use serde_json::Value as Json;
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Document, MoveStateRequest};

use super::token::CHART_KEYS;
use crate::resources::digest::{combined_digest, key_digests};

/// The source resource types (the kubernetes provider's current and older name).
const SOURCE_TYPES: [&str; 2] = ["kubernetes_secret_v1", "kubernetes_secret"];
const SCHEMA_VERSIONS: [i64; 2] = [0, 1];

/// Whether `request` moves a Secret of the hashicorp/kubernetes provider (any registry host).
pub fn is_kubernetes_secret(request: &MoveStateRequest) -> bool {
    SOURCE_TYPES.contains(&request.source_type_name.as_str())
        && request
            .source_provider_address
            .ends_with("/hashicorp/kubernetes")
}

fn error(detail: impl Into<String>) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "Cannot Move Kubernetes Secret State",
        detail.into(),
    ))
}

/// The Secret's data as bytes: `data`, plain text in the kubernetes provider's state. Keys in
/// `binary_data` are refused (not the chart's token keys; import such a Secret instead).
fn secret_data(state: &Json) -> Result<BTreeMap<String, Vec<u8>>, Diagnostics> {
    if let Some(keys) = state
        .get("binary_data")
        .and_then(Json::as_object)
        .filter(|keys| !keys.is_empty())
    {
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        return Err(error(format!(
            "The Secret has binary_data keys ({}), which this move does not read. Remove the `moved` block and import the Secret instead.",
            names.join(", ")
        )));
    }
    Ok(state
        .get("data")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.as_bytes().to_vec())))
        .collect())
}

/// Writes the moved Secret into `target` (a null state of this resource's type): where it is,
/// its labels and annotations, uid, and the digests of its token keys.
pub fn move_secret(
    request: &MoveStateRequest,
    target: &mut Document,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    if !SCHEMA_VERSIONS.contains(&request.source_schema_version) {
        return Err(error(format!(
            "{} state of schema version {} is not known to this provider (known: 0 and 1). Remove the `moved` block and import the Secret instead.",
            request.source_type_name, request.source_schema_version
        )));
    }
    let state = &request.source_state;
    let metadata = match state.get("metadata") {
        Some(Json::Array(items)) => items.first(),
        Some(object @ Json::Object(_)) => Some(object),
        _ => None,
    }
    .ok_or_else(|| error("The Secret's state has no metadata."))?;
    let text = |name: &str| {
        metadata
            .get(name)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    };
    let name = text("name").ok_or_else(|| error("The Secret's metadata has no name."))?;
    let namespace = text("namespace").unwrap_or("default");
    let data = secret_data(state)?;
    let set = |target: &mut Document, attribute: &str, value: &Json| {
        target.set_attr(&AttributePath::new(attribute), value)
    };
    set(target, "id", &Json::from(format!("{namespace}/{name}")))?;
    set(target, "namespace", &Json::from(namespace))?;
    set(target, "name", &Json::from(name))?;
    for attribute in ["labels", "annotations"] {
        if let Some(map) = metadata
            .get(attribute)
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        {
            set(target, attribute, map)?;
        }
    }
    if let Some(uid) = text("uid") {
        set(target, "uid", &Json::from(uid))?;
    }
    set(
        target,
        "token_digest",
        &Json::from(combined_digest(&data, &CHART_KEYS)),
    )?;
    target.set_attr(&AttributePath::new("key_digests"), &key_digests(&data))?;
    let secret_type = state.get("type").and_then(Json::as_str).unwrap_or("Opaque");
    if secret_type != "Opaque" {
        diagnostics.push(Diagnostic::warning(
            "Secret Type Not Opaque",
            format!("The moved Secret {namespace}/{name} has type {secret_type}; this resource writes Opaque Secrets, so the next apply that writes it fails until the Secret is replaced."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    /// A `kubernetes_secret_v1` as the kubernetes provider stores it (schema version 0):
    /// `metadata` a list of one block, `data` in plain text.
    fn kubernetes_secret_state() -> Json {
        json!({
            "id": "ci/runner-token",
            "binary_data": null,
            "data": {"runner-token": "glrt-moved", "runner-registration-token": ""},
            "immutable": false,
            "metadata": [{
                "annotations": {}, "generate_name": "", "generation": 0,
                "labels": {"team": "ci"}, "name": "runner-token", "namespace": "ci",
                "resource_version": "123", "uid": "0d3c7a0e-0000-4000-8000-000000000001"
            }],
            "timeouts": null,
            "type": "Opaque",
            "wait_for_service_account_token": true
        })
    }

    fn request(state: Json, version: i64) -> MoveStateRequest {
        MoveStateRequest {
            source_provider_address: "registry.terraform.io/hashicorp/kubernetes".into(),
            source_type_name: "kubernetes_secret_v1".into(),
            source_schema_version: version,
            source_state: state,
            source_private: Vec::new(),
        }
    }

    #[test]
    fn a_kubernetes_secret_moves_with_digests_and_without_its_token() {
        let mut target = Document::null(Arc::new(super::super::schema::schema().value_type()));
        let mut diagnostics = Diagnostics::new();
        move_secret(
            &request(kubernetes_secret_state(), 0),
            &mut target,
            &mut diagnostics,
        )
        .unwrap();
        let stored = tfplugin::codec::json::encode(target.value_type(), target.value()).unwrap();
        assert!(!stored.to_string().contains("glrt-moved"), "{stored}");
        assert_eq!(stored["id"], "ci/runner-token");
        assert_eq!(stored["labels"], json!({"team": "ci"}));
        assert_eq!(stored["annotations"], Json::Null);
        let data = BTreeMap::from([
            ("runner-token".to_owned(), b"glrt-moved".to_vec()),
            ("runner-registration-token".to_owned(), Vec::new()),
        ]);
        assert_eq!(stored["token_digest"], combined_digest(&data, &CHART_KEYS));
        assert_eq!(
            stored["key_digests"]["runner-token"],
            key_digests(&data)["runner-token"]
        );
        assert!(diagnostics.is_empty());
    }

    #[test]
    fn other_sources_and_versions_are_refused() {
        let mut other = request(json!({}), 0);
        other.source_type_name = "kubernetes_config_map_v1".into();
        assert!(!is_kubernetes_secret(&other));
        assert!(is_kubernetes_secret(&request(json!({}), 0)));
        let mut target = Document::null(Arc::new(super::super::schema::schema().value_type()));
        assert!(
            move_secret(
                &request(kubernetes_secret_state(), 7),
                &mut target,
                &mut Diagnostics::new()
            )
            .is_err()
        );
    }
}
