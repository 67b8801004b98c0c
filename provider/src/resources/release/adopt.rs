//! Adopting a release this provider did not install (no settings record): its user-supplied
//! values read back into typed attributes through the one key table ([`mapping::read_back`]),
//! what no attribute covers kept in `values`, the chart as far as helm's record tells, and a
//! warning for everything the user has to check (the chart repository, templates in the runner
//! TOML, the values the next apply would change).

use helm_driver::ReleaseRecord;
use serde_json::{Map, Value as Json};
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Document};

use super::desired::desired;
use super::mapping::{self, ReadBack};
use super::model::ReleaseModel;

/// How many differing keys a warning names.
const MAX_LISTED: usize = 12;

/// Top-level chart keys this provider always renders that no attribute holds (`replicas`,
/// `runners.name` and `rbac.clusterWideAccess` read back into attributes). They are never left
/// in `values`, where they would conflict with the typed rendering; an installed value other
/// than the pin is named by the "Imported Release Values Differ" warning instead.
pub const PINNED_WITHOUT_ATTRIBUTE: &[&str] = &["unregisterRunners"];

/// Writes the attributes `record`'s values imply into `state` (an imported state: inputs at
/// their defaults) and explains what is left to the user in `diagnostics`.
pub fn adopt(
    state: &mut Document,
    record: &ReleaseRecord,
    diagnostics: &mut Diagnostics,
) -> Result<(), Diagnostics> {
    let read = mapping::read_back(&record.config, state.value_type());
    write_attributes(state, &read, Some(&record.chart_name))?;
    let where_ = format!("{}/{}", record.namespace, record.name);
    diagnostics.push(
        Diagnostic::warning(
            "Chart Repository Not Recorded",
            format!(
                "Helm's record of release {where_} names chart {} {} but not where it was installed from. Set repository (or chart to an oci:// reference or a local path) to that source; left unset, the next helm run takes chart {} from https://charts.gitlab.io.",
                record.chart_name, record.chart_version, record.chart_name
            ),
        )
        .at(AttributePath::new("repository")),
    );
    if read.chart_default_rules {
        diagnostics.push(
            Diagnostic::warning(
                "Chart Default RBAC Rules Adopted",
                format!("Release {where_} was installed with rbac.create and no rules, so the chart's default rules (every verb on every resource of the core API group) apply; import sets rbac.allow_chart_default_rules = true to keep them. List the rules the runner needs instead."),
            )
            .at(AttributePath::new("rbac").index(0)),
        );
    }
    match read
        .attributes
        .get("runner_config_toml")
        .and_then(Json::as_str)
    {
        Some(toml) => {
            if let Some(warning) = template_warning(toml, &record.namespace, &record.name) {
                diagnostics.push(warning);
            }
        }
        None => diagnostics.push(
            Diagnostic::warning(
                "Runner Configuration Not In The Release's Values",
                format!("Release {where_} was installed without runners.config, so the chart's default runner configuration applies. This provider needs it spelled out: set runner_config_toml (or a runner block)."),
            )
            .at(AttributePath::new("runner_config_toml")),
        ),
    }
    if let Some(warning) = differences_warning(state, &record.config, &where_) {
        diagnostics.push(warning);
    }
    Ok(())
}

/// Every attribute with a schema default at its default (an imported or moved state starts so;
/// what the release tells is written over it).
pub fn set_schema_defaults(state: &mut Document) -> Result<(), Diagnostics> {
    for (attribute, definition) in &super::schema::schema().block.attributes {
        if let Some(default) = &definition.default {
            state.set_value(&AttributePath::new(attribute.clone()), default.clone())?;
        }
    }
    Ok(())
}

/// Writes what [`mapping::read_back`] found (and the chart name, when given) into `state`.
pub fn write_attributes(
    state: &mut Document,
    read: &ReadBack,
    chart_name: Option<&str>,
) -> Result<(), Diagnostics> {
    for (name, value) in &read.attributes {
        state.set_attr(&AttributePath::new(name.clone()), value)?;
    }
    let mut rest = read.rest.clone();
    for pinned in PINNED_WITHOUT_ATTRIBUTE {
        rest.remove(*pinned);
    }
    if !rest.is_empty() {
        // JSON is YAML: one document with every value no typed attribute covers.
        let text = serde_json::to_string_pretty(&Json::Object(rest)).unwrap_or_default();
        state.set_attr(&AttributePath::new("values"), &vec![text])?;
    }
    if let Some(chart) = chart_name.filter(|c| !c.is_empty()) {
        state.set_attr(&AttributePath::new("chart"), &chart)?;
    }
    Ok(())
}

/// The literal a release template in the runner TOML renders to, as a warning: the chart passes
/// `runners.config` through helm's `tpl`, so the text is kept as it was.
pub fn template_warning(toml: &str, namespace: &str, name: &str) -> Option<Diagnostic> {
    if !toml.contains("{{") {
        return None;
    }
    let (rendered, complete) = render_release_templates(toml, namespace, name);
    let detail = if complete {
        format!(
            "runner_config_toml holds helm template text, kept as it was installed: the chart renders runners.config with tpl. For this release it renders to:\n{rendered}\nWrite the literal values to see them in plans."
        )
    } else {
        "runner_config_toml holds helm template text other than {{ .Release.Namespace }} and {{ .Release.Name }}, kept as it was installed: the chart renders runners.config with tpl, and the plan cannot show what it renders to. Write the literal values to see them in plans.".to_owned()
    };
    Some(
        Diagnostic::warning("Helm Template In Runner Configuration", detail)
            .at(AttributePath::new("runner_config_toml")),
    )
}

/// Replaces `{{ .Release.Namespace }}` and `{{ .Release.Name }}` (any spacing, `{{-`/`-}}`
/// trimming ignored); `false` when other template text remains.
fn render_release_templates(text: &str, namespace: &str, name: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut complete = true;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return (out, false);
        };
        let inner = rest[start + 2..start + len]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        match inner {
            ".Release.Namespace" => out.push_str(namespace),
            ".Release.Name" => out.push_str(name),
            _ => {
                complete = false;
                out.push_str(&rest[start..start + len + 2]);
            }
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    (out, complete)
}

/// What the next apply would change in the release's values, as one warning naming the keys.
fn differences_warning(state: &Document, installed: &Json, where_: &str) -> Option<Diagnostic> {
    let model: ReleaseModel = state.get().ok()?;
    let mut ignored = Diagnostics::new();
    let wanted = desired(&model, &mut ignored)?;
    let mut keys = Vec::new();
    differing_keys(&wanted.values, installed, "", &mut keys);
    if keys.is_empty() {
        return None;
    }
    let more = keys.len().saturating_sub(MAX_LISTED);
    keys.truncate(MAX_LISTED);
    let list = keys.join(", ");
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some(Diagnostic::warning(
        "Imported Release Values Differ",
        format!(
            "The values this configuration renders differ from those release {where_} was installed with at: {list}{more}. replicas, runners.name and unregisterRunners are always set by this provider (replicas = 1 unless configured, so a hand-made scale shows as drift; runners.name = runner_name, default \"<namespace>-<name>\"; unregisterRunners = false, so a restart or upgrade does not unregister the runner manager), image_pull_secrets sets serviceAccount.imagePullSecrets too, and a typed block writes all of its keys. The next apply runs helm upgrade with the new values; values_digest shows the change."
        ),
    ))
}

fn differing_keys(wanted: &Json, installed: &Json, prefix: &str, out: &mut Vec<String>) {
    let empty = Json::Object(Map::new());
    match (wanted, installed) {
        (Json::Object(a), Json::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                differing_keys(
                    a.get(key).unwrap_or(&Json::Null),
                    b.get(key).unwrap_or(&Json::Null),
                    &path,
                    out,
                );
            }
        }
        (Json::Object(a), Json::Null) if a.is_empty() => {}
        (Json::Null, Json::Object(b)) if b.is_empty() => {}
        (a, b) if same_number(a, b) || a == b => {}
        (Json::Object(_), Json::Null) => differing_keys(wanted, &empty, prefix, out),
        (Json::Null, Json::Object(_)) => differing_keys(&empty, installed, prefix, out),
        _ => out.push(prefix.to_owned()),
    }
}

/// 4 and 4.0 are the same chart value (helm's JSON record may hold either).
fn same_number(a: &Json, b: &Json) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
#[path = "adopt_tests.rs"]
mod tests;
