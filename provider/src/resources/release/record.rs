//! The settings record: the resource's non-secret input attributes, written as the helm
//! revision's `--description` so that `terraform import` can restore the configuration that
//! installed the release (and the plan after an import is empty when the configuration matches).

use tfplugin::codec::json;
use tfplugin::{AttributePath, Type, Value};

/// Start of a description that carries a settings record.
pub const PREFIX: &str = "terraform-provider-gitlabrunner settings: ";

/// Attributes never recorded: computed results and secrets.
const NOT_RECORDED: &[&str] = &[
    "id",
    "repository_password",
    "repository_password_wo",
    "revision",
    "status",
    "app_version",
    "runner_config",
    "values_digest",
    "drifted_objects",
    "manifest_objects",
];

/// The description for a revision applied from `config` (a wholly known configuration).
pub fn encode(ty: &Type, config: &Value) -> Option<String> {
    let mut value = config.clone();
    if values_hold_credentials(&value)
        && let Some(slot) = value.at_mut(&AttributePath::new("values"))
    {
        // argv is visible to other users of the machine: never put a credential there.
        *slot = Value::Null;
    }
    for name in NOT_RECORDED {
        if let Some(slot) = value.at_mut(&AttributePath::new(*name)) {
            *slot = Value::Null;
        }
    }
    let encoded = json::encode(ty, &value).ok()?;
    Some(format!("{PREFIX}{encoded}"))
}

/// Whether any `values` document holds something shaped or named like a credential.
fn values_hold_credentials(config: &Value) -> bool {
    config
        .attr("values")
        .and_then(Value::as_elements)
        .is_some_and(|documents| {
            documents.iter().filter_map(Value::as_str).any(|yaml| {
                gitlab_runner_chart::values::parse_user_values(yaml)
                    .map(|map| {
                        !gitlab_runner_chart::scan_for_credentials(&serde_json::Value::Object(map))
                            .is_empty()
                    })
                    .unwrap_or(true)
            })
        })
}

/// The recorded attributes of a description, when it carries a record of this schema.
pub fn decode(ty: &Type, description: &str) -> Option<Value> {
    let text = description.strip_prefix(PREFIX)?;
    let parsed: serde_json::Value = serde_json::from_str(text).ok()?;
    json::decode(ty, &parsed, json::UnknownAttributes::Drop)
        .ok()
        .map(|(value, _)| value)
}

/// Sets every top-level attribute `recorded` holds (non-null) in `state`.
pub fn restore_into(state: &mut Value, recorded: &Value) {
    let Some(entries) = recorded.as_entries() else {
        return;
    };
    for (name, value) in entries {
        if value.is_null() || NOT_RECORDED.contains(&name.as_str()) {
            continue;
        }
        if let Some(slot) = state.at_mut(&AttributePath::new(name.clone())) {
            *slot = value.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_without_secrets_or_results() {
        let ty = Type::object([
            ("name", Type::String),
            ("repository_password", Type::String),
            ("revision", Type::Number),
            ("concurrent", Type::Number),
        ]);
        let config = Value::object([
            ("name", Value::from("runner")),
            ("repository_password", Value::from("hunter2")),
            ("revision", Value::from(3_i64)),
            ("concurrent", Value::from(4_i64)),
        ]);
        let description = encode(&ty, &config).unwrap();
        assert!(!description.contains("hunter2"));
        let recorded = decode(&ty, &description).unwrap();
        let mut state = Value::object([
            ("name", Value::from("runner")),
            ("repository_password", Value::Null),
            ("revision", Value::from(5_i64)),
            ("concurrent", Value::Null),
        ]);
        restore_into(&mut state, &recorded);
        assert_eq!(state.attr("concurrent"), Some(&Value::from(4_i64)));
        assert_eq!(state.attr("revision"), Some(&Value::from(5_i64)));
        assert_eq!(state.attr("repository_password"), Some(&Value::Null));
        assert!(decode(&ty, "Upgrade complete").is_none());
    }

    #[test]
    fn no_sensitive_attribute_of_the_release_is_recorded() {
        let schema = crate::resources::release::schema::schema();
        for (name, attribute) in &schema.block.attributes {
            if attribute.sensitive || attribute.write_only {
                assert!(
                    NOT_RECORDED.contains(&name.as_str()),
                    "sensitive attribute {name} would be written to the helm description"
                );
            }
        }
    }

    #[test]
    fn values_with_credentials_are_not_recorded() {
        let ty = Type::object([("values", Type::list(Type::String))]);
        let with = Value::object([(
            "values",
            Value::List(vec![Value::from("password: hunter2-secret\n")]),
        )]);
        let description = encode(&ty, &with).unwrap();
        assert!(!description.contains("hunter2"), "{description}");
        let without = Value::object([(
            "values",
            Value::List(vec![Value::from("metrics:\n  enabled: true\n")]),
        )]);
        assert!(encode(&ty, &without).unwrap().contains("metrics"));
    }
}
