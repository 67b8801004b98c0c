//! Terraform's rules that every resource gets for free: attribute validation, defaults, unknown
//! computed values, plan modifiers, write-only attributes and checks of returned state.

use std::collections::BTreeMap;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::path::{AttributePath, PathStep};
use crate::plan_modifiers::{PlanModifierRequest, PlanModifierResponse};
use crate::schema::{Attribute, AttributeType, Block, Nesting};
use crate::value::Value;

/// Every attribute of `block` that exists in `value`, with its path, parents before children.
/// Elements of lists and maps are visited by index and key; elements of sets are not (they
/// cannot be matched between configuration, state and plan).
pub fn attribute_paths<'a>(block: &'a Block, value: &Value) -> Vec<(AttributePath, &'a Attribute)> {
    let mut out = Vec::new();
    walk_block(block, value, &AttributePath::root(), &mut out);
    out
}

fn walk_block<'a>(
    block: &'a Block,
    value: &Value,
    path: &AttributePath,
    out: &mut Vec<(AttributePath, &'a Attribute)>,
) {
    if value.as_entries().is_none() {
        return;
    }
    walk_attributes(&block.attributes, value, path, out);
    for (name, nested) in &block.blocks {
        let p = path.attr(name);
        if let Some(v) = value.attr(name) {
            for (element_path, element) in elements(nested.nesting, v, &p) {
                walk_block(&nested.block, element, &element_path, out);
            }
        }
    }
}

fn walk_attributes<'a>(
    attributes: &'a BTreeMap<String, Attribute>,
    value: &Value,
    path: &AttributePath,
    out: &mut Vec<(AttributePath, &'a Attribute)>,
) {
    if value.as_entries().is_none() {
        return;
    }
    for (name, attribute) in attributes {
        let p = path.attr(name);
        out.push((p.clone(), attribute));
        if let (AttributeType::Nested(nested), Some(v)) = (&attribute.ty, value.attr(name)) {
            for (element_path, element) in elements(nested.nesting, v, &p) {
                walk_attributes(&nested.attributes, element, &element_path, out);
            }
        }
    }
}

fn elements<'v>(
    nesting: Nesting,
    value: &'v Value,
    path: &AttributePath,
) -> Vec<(AttributePath, &'v Value)> {
    match (nesting, value) {
        (_, Value::Null | Value::Unknown) => Vec::new(),
        (Nesting::Single | Nesting::Group, v) => vec![(path.clone(), v)],
        (Nesting::List, Value::List(vs)) => vs
            .iter()
            .enumerate()
            .map(|(i, v)| (path.index(i), v))
            .collect(),
        (Nesting::Map, Value::Map(m)) => m.iter().map(|(k, v)| (path.key(k), v)).collect(),
        _ => Vec::new(),
    }
}

/// Runs every attribute's validators on known, non-null values, and warns about deprecated
/// attributes that are set.
pub fn validate_attributes(block: &Block, config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    for (path, attribute) in attribute_paths(block, config) {
        let Some(value) = config.at(&path) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if !attribute.deprecation.is_empty() {
            diagnostics.push(
                Diagnostic::warning("Deprecated Attribute", attribute.deprecation.clone())
                    .at(path.clone()),
            );
        }
        if value.is_unknown() {
            continue;
        }
        for validator in &attribute.validators {
            validator.validate(value, &path, &mut diagnostics);
        }
    }
    diagnostics
}

/// Errors for write-only attributes set in the configuration of a client that cannot handle
/// them (Terraform < 1.11, OpenTofu < 1.11): their values would be lost silently.
pub fn write_only_not_allowed(block: &Block, config: &Value) -> Diagnostics {
    attribute_paths(block, config)
        .into_iter()
        .filter(|(path, attribute)| {
            attribute.write_only && config.at(path).is_some_and(|v| !v.is_null())
        })
        .map(|(path, _)| {
            Diagnostic::error(
                "Write-Only Attribute Not Allowed",
                format!("{path} is write-only, which needs Terraform 1.11 or OpenTofu 1.11 or newer. Upgrade the CLI, or leave {path} unset."),
            )
            .at(path)
        })
        .collect()
}

/// Sets write-only attributes to null (they are never stored in plan or state). Walks the value
/// in place along the schema: no path is built (it runs on every state a resource returns).
pub fn null_write_only(block: &Block, value: &mut Value) {
    let Some(entries) = entries_mut(value) else {
        return;
    };
    null_write_only_attributes(&block.attributes, entries);
    for (name, nested) in &block.blocks {
        if let Some(v) = entries.get_mut(name) {
            for element in elements_mut(nested.nesting, v) {
                null_write_only(&nested.block, element);
            }
        }
    }
}

fn null_write_only_attributes(
    attributes: &BTreeMap<String, Attribute>,
    entries: &mut BTreeMap<String, Value>,
) {
    for (name, attribute) in attributes {
        // Most attributes are neither: no lookup for them.
        let nested = matches!(attribute.ty, AttributeType::Nested(_));
        if !attribute.write_only && !nested {
            continue;
        }
        let Some(slot) = entries.get_mut(name) else {
            continue;
        };
        if attribute.write_only {
            *slot = Value::Null;
        } else if let AttributeType::Nested(nested) = &attribute.ty {
            for element in elements_mut(nested.nesting, slot) {
                if let Some(element_entries) = entries_mut(element) {
                    null_write_only_attributes(&nested.attributes, element_entries);
                }
            }
        }
    }
}

/// The entries of an object or map value (through a `dynamic` wrapper).
fn entries_mut(value: &mut Value) -> Option<&mut BTreeMap<String, Value>> {
    match value {
        Value::Map(m) | Value::Object(m) => Some(m),
        Value::Dynamic(_, inner) => entries_mut(inner),
        _ => None,
    }
}

/// The elements of a nested block or nested attribute value (set elements too: nulling needs no
/// path).
fn elements_mut(nesting: Nesting, value: &mut Value) -> Vec<&mut Value> {
    match (nesting, value) {
        (_, Value::Null | Value::Unknown) => Vec::new(),
        (Nesting::Single | Nesting::Group, v) => vec![v],
        (Nesting::List, Value::List(vs)) | (Nesting::Set, Value::Set(vs)) => {
            vs.iter_mut().collect()
        }
        (Nesting::Map, Value::Map(m)) => m.values_mut().collect(),
        _ => Vec::new(),
    }
}

/// Attributes with a default that a stored state does not mention at all (it was written by a
/// provider release from before they existed) take that default, so upgrading the provider does
/// not show up as a planned change. An attribute stored as `null` is left alone.
pub fn default_unmentioned(block: &Block, stored: &serde_json::Value, state: &mut Value) {
    let missing: Vec<(AttributePath, Value)> = attribute_paths(block, state)
        .into_iter()
        .filter_map(|(path, attribute)| {
            let default = attribute.default.as_ref()?;
            (!mentions(stored, &path)).then(|| (path, default.clone()))
        })
        .collect();
    for (path, default) in missing {
        if let Some(slot) = state.at_mut(&path)
            && slot.is_null()
        {
            *slot = default;
        }
    }
}

/// Whether the stored JSON has a key (possibly `null`) at `path`. A path it cannot follow
/// (another shape, a missing element) counts as mentioned: nothing is invented there.
fn mentions(stored: &serde_json::Value, path: &AttributePath) -> bool {
    let mut here = stored;
    for step in path.steps() {
        let next = match (step, here) {
            (PathStep::Attribute(name) | PathStep::Key(name), serde_json::Value::Object(map)) => {
                match map.get(name) {
                    Some(value) => Some(value),
                    None => return false,
                }
            }
            (PathStep::Index(index), serde_json::Value::Array(items)) => {
                usize::try_from(*index).ok().and_then(|i| items.get(i))
            }
            _ => None,
        };
        match next {
            Some(value) => here = value,
            None => return true,
        }
    }
    true
}

/// The outcome of the schema-driven part of planning.
pub struct PlannedChange {
    pub plan: Value,
    pub requires_replace: Vec<AttributePath>,
    pub diagnostics: Diagnostics,
}

/// Plans a create or update: defaults, unknown computed attributes, then plan modifiers.
pub fn plan_attributes(
    block: &Block,
    config: &Value,
    prior: &Value,
    proposed: Value,
) -> PlannedChange {
    let creating = prior.is_null();
    let mut plan = proposed;

    // 1. Defaults for attributes the configuration leaves null.
    for (path, attribute) in attribute_paths(block, config) {
        let Some(default) = &attribute.default else {
            continue;
        };
        if config.at(&path).is_none_or(Value::is_null)
            && let Some(slot) = plan.at_mut(&path)
        {
            *slot = default.clone();
        }
    }

    // 2. Computed attributes the configuration leaves null become unknown when anything changes.
    if creating || &plan != prior {
        for (path, attribute) in attribute_paths(block, &plan) {
            if !attribute.computed || attribute.default.is_some() {
                continue;
            }
            if config.at(&path).is_some_and(|v| !v.is_null()) {
                continue;
            }
            if let Some(slot) = plan.at_mut(&path) {
                *slot = Value::Unknown;
            }
        }
    }

    // 3. Plan modifiers.
    let mut requires_replace = Vec::new();
    let mut diagnostics = Diagnostics::new();
    for (path, attribute) in attribute_paths(block, &plan) {
        if attribute.plan_modifiers.is_empty() {
            continue;
        }
        let config_value = config.at(&path).cloned().unwrap_or_default();
        let state_value = prior.at(&path).cloned().unwrap_or_default();
        for modifier in &attribute.plan_modifiers {
            let Some(plan_value) = plan.at(&path).cloned() else {
                break;
            };
            let request = PlanModifierRequest {
                path: &path,
                config: &config_value,
                state: &state_value,
                plan: &plan_value,
                creating,
            };
            let mut response = PlanModifierResponse {
                plan: plan_value.clone(),
                requires_replace: false,
                diagnostics: Diagnostics::new(),
            };
            modifier.modify(&request, &mut response);
            diagnostics.extend(response.diagnostics);
            if response.requires_replace && !requires_replace.contains(&path) {
                requires_replace.push(path.clone());
            }
            if response.plan != plan_value
                && let Some(slot) = plan.at_mut(&path)
            {
                *slot = response.plan;
            }
        }
    }

    null_write_only(block, &mut plan);
    PlannedChange {
        plan,
        requires_replace,
        diagnostics,
    }
}

/// After apply or read, a state may not hold unknown values: report the first one (as the
/// resource's bug) and replace all of them with null so Terraform still gets a valid object.
pub fn settle_unknowns(state: &mut Value, diagnostics: &mut Diagnostics, type_name: &str) {
    if let Some(path) = state.first_unknown() {
        if !diagnostics.has_errors() {
            diagnostics.push(
                Diagnostic::error(
                    "Provider Returned Unknown Value",
                    format!(
                        "The {type_name} resource left {path} unknown after the operation. Please report this issue to the provider developers."
                    ),
                )
                .at(path),
            );
        }
        replace_unknowns(state);
    }
}

fn replace_unknowns(value: &mut Value) {
    match value {
        Value::Unknown => *value = Value::Null,
        Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
            vs.iter_mut().for_each(replace_unknowns)
        }
        Value::Map(m) | Value::Object(m) => m.values_mut().for_each(replace_unknowns),
        Value::Dynamic(_, inner) => replace_unknowns(inner),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan_modifiers::{RequiresReplace, UseStateForUnknown};
    use crate::schema::{NestedBlock, Schema};
    use crate::validators;

    fn schema() -> Schema {
        Schema::new()
            .attribute(
                "id",
                Attribute::string()
                    .computed()
                    .plan_modifier(UseStateForUnknown)
                    .description("i"),
            )
            .attribute(
                "name",
                Attribute::string()
                    .required()
                    .plan_modifier(RequiresReplace)
                    .validator(validators::string_length(1, 5))
                    .description("n"),
            )
            .attribute("status", Attribute::string().computed().description("s"))
            .attribute(
                "replicas",
                Attribute::int64()
                    .optional()
                    .default(1_i64)
                    .description("r"),
            )
            .attribute(
                "token",
                Attribute::string().optional().write_only().description("t"),
            )
            .block(
                "settings",
                NestedBlock::list(
                    Block::new()
                        .attribute(
                            "key",
                            Attribute::string()
                                .required()
                                .validator(validators::one_of(["a", "b"]))
                                .description("k"),
                        )
                        .attribute("digest", Attribute::string().computed().description("d")),
                ),
            )
    }

    fn obj(pairs: Vec<(&str, Value)>) -> Value {
        let ty = schema().value_type();
        Value::object(pairs).conform(&ty).unwrap()
    }

    fn settings(key: &str, digest: Value) -> Value {
        Value::List(vec![Value::object([
            ("key", Value::from(key)),
            ("digest", digest),
        ])])
    }

    #[test]
    fn create_marks_computed_unknown_applies_defaults_and_nulls_write_only() {
        let config = obj(vec![
            ("name", "a".into()),
            ("token", "secret".into()),
            ("settings", settings("a", Value::Null)),
        ]);
        let planned = plan_attributes(&schema().block, &config, &Value::Null, config.clone());
        let p = &planned.plan;
        assert_eq!(p.attr("id"), Some(&Value::Unknown));
        assert_eq!(p.attr("status"), Some(&Value::Unknown));
        assert_eq!(p.attr("replicas"), Some(&Value::from(1_i64)));
        assert_eq!(p.attr("token"), Some(&Value::Null));
        assert_eq!(
            p.at(&AttributePath::new("settings").index(0).attr("digest")),
            Some(&Value::Unknown)
        );
        assert!(planned.requires_replace.is_empty());
    }

    #[test]
    fn unchanged_update_keeps_prior_computed_values() {
        let prior = obj(vec![
            ("id", "x".into()),
            ("name", "a".into()),
            ("status", "ok".into()),
            ("replicas", 1_i64.into()),
            ("settings", settings("a", "d1".into())),
        ]);
        let config = obj(vec![
            ("name", "a".into()),
            ("settings", settings("a", Value::Null)),
        ]);
        let planned = plan_attributes(&schema().block, &config, &prior, prior.clone());
        assert_eq!(planned.plan, prior);
    }

    #[test]
    fn changed_update_requires_replace_and_keeps_id_from_state() {
        let prior = obj(vec![
            ("id", "x".into()),
            ("name", "a".into()),
            ("status", "ok".into()),
            ("replicas", 1_i64.into()),
        ]);
        let config = obj(vec![("name", "b".into())]);
        let mut proposed = prior.clone();
        *proposed.at_mut(&AttributePath::new("name")).unwrap() = "b".into();
        let planned = plan_attributes(&schema().block, &config, &prior, proposed);
        assert_eq!(planned.plan.attr("id"), Some(&Value::from("x")));
        assert_eq!(planned.plan.attr("status"), Some(&Value::Unknown));
        assert_eq!(planned.requires_replace, vec![AttributePath::new("name")]);
    }

    #[test]
    fn validators_run_on_nested_blocks_and_skip_unknown() {
        let config = obj(vec![
            ("name", "toolongname".into()),
            ("settings", settings("c", Value::Null)),
        ]);
        let d = validate_attributes(&schema().block, &config);
        let paths: Vec<String> = d
            .iter()
            .map(|d| d.attribute.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(paths, vec!["name", "settings[0].key"]);
        let unknown = obj(vec![("name", Value::Unknown)]);
        assert!(validate_attributes(&schema().block, &unknown).is_empty());
    }

    #[test]
    fn settle_unknowns_reports_and_clears() {
        let mut v = obj(vec![("id", Value::Unknown), ("name", "a".into())]);
        let mut d = Diagnostics::new();
        settle_unknowns(&mut v, &mut d, "t");
        assert!(d.has_errors());
        assert!(v.is_wholly_known());
    }

    #[test]
    fn write_only_attributes_are_nulled_at_every_depth_and_nothing_else() {
        let block = Block::new()
            .attribute("name", Attribute::string().optional().description("n"))
            .attribute(
                "token",
                Attribute::string().optional().write_only().description("t"),
            )
            .attribute(
                "credentials",
                Attribute::list_nested([
                    ("user", Attribute::string().optional().description("u")),
                    (
                        "password",
                        Attribute::string().optional().write_only().description("p"),
                    ),
                ])
                .optional()
                .description("c"),
            )
            .block(
                "backend",
                NestedBlock::list(
                    Block::new()
                        .attribute("bucket", Attribute::string().optional().description("b"))
                        .attribute(
                            "key",
                            Attribute::string().optional().write_only().description("k"),
                        ),
                ),
            );
        let ty = Schema {
            version: 0,
            block: block.clone(),
        }
        .value_type();
        let mut value = Value::object([
            ("name", Value::from("runner")),
            ("token", Value::from("glrt-1")),
            (
                "credentials",
                Value::List(vec![Value::object([
                    ("user", Value::from("u")),
                    ("password", Value::from("p")),
                ])]),
            ),
            (
                "backend",
                Value::List(vec![
                    Value::object([("bucket", Value::from("b1")), ("key", Value::from("k1"))]),
                    Value::object([("bucket", Value::from("b2")), ("key", Value::from("k2"))]),
                ]),
            ),
        ])
        .conform(&ty)
        .unwrap();
        null_write_only(&block, &mut value);
        let at = |p: &str| {
            let mut path = AttributePath::root();
            for step in p.split('.') {
                path = match step.parse::<usize>() {
                    Ok(i) => path.index(i),
                    Err(_) => path.attr(step),
                };
            }
            value.at(&path).cloned()
        };
        assert_eq!(at("name"), Some(Value::from("runner")));
        assert_eq!(at("token"), Some(Value::Null));
        assert_eq!(at("credentials.0.user"), Some(Value::from("u")));
        assert_eq!(at("credentials.0.password"), Some(Value::Null));
        assert_eq!(at("backend.0.bucket"), Some(Value::from("b1")));
        assert_eq!(at("backend.0.key"), Some(Value::Null));
        assert_eq!(at("backend.1.bucket"), Some(Value::from("b2")));
        assert_eq!(at("backend.1.key"), Some(Value::Null));
    }
}
