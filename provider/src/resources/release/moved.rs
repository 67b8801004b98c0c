//! `moved { from = helm_release.x  to = gitlabrunner_release.x }` (Terraform 1.8+): the state
//! the hashicorp/helm provider (2.x: schema version 1, 3.x: schema version 2) stores for a
//! `helm_release`, decoded into this resource's state. The values (`values` YAML documents, then
//! `set` / `set_list` entries, as helm applies them) are read back into typed attributes through
//! the same key table as an import ([`super::mapping::read_back`]); secrets it holds
//! (`set_sensitive`, `repository_password`) are not carried over, with a warning.

use serde_json::{Map, Value as Json};
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Document, MoveStateRequest};

use super::adopt;
use super::desired::coalesce;
use super::digest::values_digest;
use super::mapping;

/// The source resource type this resource takes state from.
pub const HELM_RELEASE: &str = "helm_release";
/// The helm provider's schema versions whose state is understood (2.x: 1, 3.x: 2).
const SCHEMA_VERSIONS: [i64; 3] = [0, 1, 2];

/// Whether `request` moves a `helm_release` of the hashicorp/helm provider (any registry host).
pub fn is_helm_release(request: &MoveStateRequest) -> bool {
    request.source_type_name == HELM_RELEASE
        && request.source_provider_address.ends_with("/hashicorp/helm")
}

fn error(detail: impl Into<String>) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "Cannot Move helm_release State",
        detail.into(),
    ))
}

fn text<'a>(state: &'a Json, name: &str) -> Option<&'a str> {
    state
        .get(name)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// `metadata`: a list of one object in 2.x, an object in 3.x.
fn metadata(state: &Json) -> Option<&Json> {
    match state.get("metadata")? {
        Json::Array(items) => items.first(),
        object @ Json::Object(_) => Some(object),
        _ => None,
    }
}

/// Writes the moved release into `target` (a null state of this resource's type).
pub fn move_helm_release(
    request: &MoveStateRequest,
    target: &mut Document,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    if !SCHEMA_VERSIONS.contains(&request.source_schema_version) {
        return Err(error(format!(
            "helm_release state of schema version {} is not known to this provider (known: 0-2, helm provider 2.x and 3.x). Remove the `moved` block and import the release instead.",
            request.source_schema_version
        )));
    }
    let state = &request.source_state;
    let (Some(name), Some(namespace)) = (
        text(state, "name"),
        text(state, "namespace").or(Some("default")),
    ) else {
        return Err(error("The helm_release state has no name."));
    };
    let values = merged_values(state).map_err(error)?;
    adopt::set_schema_defaults(target)?;
    let set = |target: &mut Document, attribute: &str, value: &Json| {
        target.set_attr(&AttributePath::new(attribute), value)
    };
    set(target, "id", &Json::from(format!("{namespace}/{name}")))?;
    set(target, "name", &Json::from(name))?;
    set(target, "namespace", &Json::from(namespace))?;
    for (from, to) in [
        ("repository", "repository"),
        ("chart", "chart"),
        ("repository_username", "repository_username"),
    ] {
        if let Some(value) = text(state, from) {
            set(target, to, &Json::from(value))?;
        }
    }
    for (from, to) in [
        ("create_namespace", "create_namespace"),
        ("wait", "wait"),
        ("atomic", "atomic"),
        ("timeout", "timeout"),
    ] {
        if let Some(value) = state.get(from).filter(|v| !v.is_null()) {
            set(target, to, value)?;
        }
    }
    let meta = metadata(state);
    let installed_version = meta.and_then(|m| text(m, "version"));
    if let Some(version) = text(state, "version").or(installed_version) {
        set(target, "chart_version", &Json::from(version))?;
    }
    if let Some(revision) = meta.and_then(|m| m.get("revision")).filter(|v| v.is_i64()) {
        set(target, "revision", revision)?;
    }
    if let Some(app_version) = meta.and_then(|m| text(m, "app_version")) {
        set(target, "app_version", &Json::from(app_version))?;
    }
    if let Some(status) = text(state, "status") {
        set(target, "status", &Json::from(status))?;
    }
    let read = mapping::read_back(&values, target.value_type());
    adopt::write_attributes(target, &read, None)?;
    set(target, "values_digest", &Json::from(values_digest(&values)))?;
    warn_about_dropped_secrets(state, diagnostics);
    if let Some(toml) = read
        .attributes
        .get("runner_config_toml")
        .and_then(Json::as_str)
        && let Some(warning) = adopt::template_warning(toml, namespace, name)
    {
        diagnostics.push(warning);
    }
    Ok(())
}

/// The user-supplied values as helm computes them: the `values` documents coalesced in order,
/// then every `set` and `set_list` entry.
fn merged_values(state: &Json) -> Result<Json, String> {
    let mut merged = Map::new();
    for (index, document) in state
        .get("values")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(text) = document.as_str() else {
            continue;
        };
        let parsed = gitlab_runner_chart::values::parse_user_values(text)
            .map_err(|e| format!("values[{index}] of the helm_release state: {e}."))?;
        coalesce(&mut merged, parsed);
    }
    for entry in list_of(state, "set") {
        let (Some(name), Some(value)) = (
            entry.get("name").and_then(Json::as_str),
            entry.get("value").and_then(Json::as_str),
        ) else {
            continue;
        };
        let kind = entry.get("type").and_then(Json::as_str).unwrap_or("");
        let value = match kind {
            "string" | "literal" => Json::from(value),
            _ => typed_value(value),
        };
        set_path(&mut merged, name, value)?;
    }
    for entry in list_of(state, "set_list") {
        let Some(name) = entry.get("name").and_then(Json::as_str) else {
            continue;
        };
        let items = entry
            .get("value")
            .and_then(Json::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().map_or(Json::Null, typed_value))
                    .collect()
            })
            .unwrap_or_default();
        set_path(&mut merged, name, Json::Array(items))?;
    }
    Ok(Json::Object(merged))
}

/// A list attribute (2.x blocks and 3.x nested attributes are both lists of objects in state).
fn list_of<'a>(state: &'a Json, name: &str) -> impl Iterator<Item = &'a Json> {
    state
        .get(name)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
}

/// Helm's `--set` typing (`type = "auto"`): `true`/`false`, `null`, whole numbers (without a
/// leading zero), else the text.
fn typed_value(text: &str) -> Json {
    match text {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        "null" => Json::Null,
        "0" => Json::from(0),
        _ if !text.starts_with('0') => text
            .parse::<i64>()
            .map_or_else(|_| Json::from(text), Json::from),
        _ => Json::from(text),
    }
}

/// Sets `a.b\.c.d` (helm's `--set` path: `.` separates, `\.` is a dot in a key) in `values`.
/// List indexes (`a[0]`) are not supported: such an entry is an error naming it.
fn set_path(values: &mut Map<String, Json>, path: &str, value: Json) -> Result<(), String> {
    if path.contains('[') {
        return Err(format!(
            "The set entry {path:?} indexes a list, which this provider does not read; write that value into values instead."
        ));
    }
    let mut keys = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '.' => keys.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    keys.push(current);
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    let mut object = values;
    for key in parents {
        let slot = object
            .entry(key.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        let Json::Object(inner) = slot else {
            return Ok(());
        };
        object = inner;
    }
    object.insert(last.clone(), value);
    Ok(())
}

fn warn_about_dropped_secrets(state: &Json, diagnostics: &mut Diagnostics) {
    let sensitive: Vec<&str> = list_of(state, "set_sensitive")
        .filter_map(|entry| entry.get("name").and_then(Json::as_str))
        .collect();
    if !sensitive.is_empty() {
        diagnostics.push(Diagnostic::warning(
            "Sensitive Values Not Moved",
            format!(
                "The helm_release set_sensitive entries ({}) are secrets and are not carried into this resource's state. Put them in a Secret the chart reads (runners.secret, runners.cache.secretName), or in values.",
                sensitive.join(", ")
            ),
        ));
    }
    if text(state, "repository_password").is_some() {
        diagnostics.push(
            Diagnostic::warning(
                "Repository Password Not Moved",
                "The helm_release repository_password is not carried into state; set repository_password_wo (write-only) in the configuration.",
            )
            .at(AttributePath::new("repository_password_wo")),
        );
    }
}

#[cfg(test)]
#[path = "moved_tests.rs"]
mod tests;
