//! The `values` escape hatch: user YAML merged last over the typed values, where a key that a typed
//! attribute also sets is an error rather than a silent override.
//!
//! Merge semantics follow Helm's values coalescing: mappings merge key by key, anything else replaces.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::finding::ConfigPath;

/// Why user values could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MergeError {
    /// The text is not YAML. Line and column are 1-based when known.
    #[error("the values are not valid YAML{}: {message}", location_suffix(*line, *column))]
    InvalidYaml {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The YAML document is a list or a scalar, where Helm needs a mapping.
    #[error("the values must be a YAML mapping (key: value), not {found}")]
    NotAMapping { found: &'static str },
    /// The text is too large or nests flow collections too deeply to parse at all.
    /// The limit's message is part of this one, so it is not also the `source()`.
    #[error("the values are not parsed: {0}")]
    Limit(yaml_guard::LimitError),
    /// Keys set both by a typed attribute and by the YAML.
    #[error("{} set by typed attributes and again in values: {}; remove them from values or from the typed attributes", plural(paths.len()), paths.join(", "))]
    Conflicts { paths: Vec<String> },
}

impl From<yaml_guard::LimitError> for MergeError {
    fn from(error: yaml_guard::LimitError) -> MergeError {
        MergeError::Limit(error)
    }
}

fn location_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "a key is" } else { "keys are" }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// How large and deep one `values` document may be: helm stores the values in its release Secret
/// (1 MiB, gzip-compressed), so 8 MiB of YAML is already far past what can be installed.
pub const USER_VALUES_LIMITS: yaml_guard::Limits = yaml_guard::Limits {
    max_bytes: 8 * 1024 * 1024,
    max_flow_depth: yaml_guard::Limits::DEFAULT.max_flow_depth,
};

/// Parses the user's YAML into a mapping (empty text or a document of comments gives an empty mapping).
pub fn parse_user_values(user_yaml: &str) -> Result<Map<String, Value>, MergeError> {
    // Before the parser, whose work grows with flow nesting times length.
    yaml_guard::check(user_yaml, &USER_VALUES_LIMITS)?;
    let parsed: Value = serde_yaml_ng::from_str(user_yaml).map_err(|error| {
        let location = error.location();
        MergeError::InvalidYaml {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            // serde_yaml_ng's messages name the problem and position, not the offending text.
            message: error.to_string(),
        }
    })?;
    match parsed {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        other => Err(MergeError::NotAMapping {
            found: kind_of(&other),
        }),
    }
}

/// The paths (e.g. `rbac.create`, `podAnnotations."example.com/x"`) that both trees set: a path is a
/// conflict unless both sides hold mappings there (then their keys are compared one level down).
pub fn user_values_conflicts(typed: &Value, user: &Map<String, Value>) -> Vec<String> {
    let mut conflicts = Vec::new();
    if let Value::Object(typed) = typed {
        collect_conflicts(typed, user, &ConfigPath::root(), &mut conflicts);
    }
    conflicts
}

fn collect_conflicts(
    typed: &Map<String, Value>,
    user: &Map<String, Value>,
    path: &ConfigPath,
    out: &mut Vec<String>,
) {
    for (key, user_value) in user {
        let Some(typed_value) = typed.get(key) else {
            continue;
        };
        let key_path = path.key(key.as_str());
        match (typed_value, user_value) {
            (Value::Object(typed_child), Value::Object(user_child)) => {
                collect_conflicts(typed_child, user_child, &key_path, out);
            }
            _ => out.push(key_path.to_string()),
        }
    }
}

fn merge_into(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(base_child)), Value::Object(overlay_child)) => {
                merge_into(base_child, overlay_child)
            }
            // Helm: null in user values removes the key.
            (_, Value::Null) => {
                base.remove(&key);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Merges `user_yaml` over `typed` (Helm's coalescing: user keys last). Fails with every conflicting
/// path when the YAML sets a key that a typed attribute also sets.
///
/// Note: this parses YAML 1.2 (`yes`/`on` are strings), while Helm's parser reads them as booleans. To
/// keep the user's YAML meaning exactly what Helm makes of it, a caller can check conflicts here and
/// pass the YAML to Helm as its own values file after the typed one, which Helm merges the same way.
pub fn merge_user_values(typed: &Value, user_yaml: &str) -> Result<Value, MergeError> {
    let user = parse_user_values(user_yaml)?;
    let conflicts = user_values_conflicts(typed, &user);
    if !conflicts.is_empty() {
        return Err(MergeError::Conflicts { paths: conflicts });
    }
    let mut merged = match typed {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_into(&mut merged, user);
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_limit_error_says_its_cause_once() {
        let error = MergeError::from(yaml_guard::LimitError::TooDeep { max: 64, line: 3 });
        assert!(
            error
                .to_string()
                .ends_with("more than 64 levels deep (at line 3)")
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    fn typed() -> Value {
        json!({
            "gitlabUrl": "https://gitlab.example.com/",
            "rbac": { "create": true, "rules": [] },
            "podAnnotations": { "gitlabrunner.io/token-digest": "sha256:00" },
            "runners": { "config": "[[runners]]\n", "secret": "tok" },
        })
    }

    #[test]
    fn user_keys_the_typed_values_leave_alone_are_merged_last() {
        let merged = merge_user_values(
            &typed(),
            "metrics:\n  enabled: true\nrunners:\n  cache:\n    secretName: s3\npodAnnotations:\n  team: ci\n",
        )
        .expect("merges");
        assert_eq!(merged["metrics"]["enabled"], json!(true));
        assert_eq!(merged["runners"]["cache"]["secretName"], json!("s3"));
        assert_eq!(merged["runners"]["secret"], json!("tok"));
        assert_eq!(merged["podAnnotations"]["team"], json!("ci"));
        assert_eq!(
            merged["podAnnotations"]["gitlabrunner.io/token-digest"],
            json!("sha256:00")
        );
    }

    #[test]
    fn every_key_also_set_by_a_typed_attribute_is_listed() {
        let cases = [
            ("gitlabUrl: https://other/\n", vec!["gitlabUrl"]),
            (
                "rbac:\n  create: false\n  clusterWideAccess: true\n",
                vec!["rbac.create"],
            ),
            ("rbac:\n  rules:\n    - verbs: [get]\n", vec!["rbac.rules"]),
            ("runners: null\n", vec!["runners"]),
            ("runners: \"x\"\n", vec!["runners"]),
            (
                "podAnnotations:\n  gitlabrunner.io/token-digest: forged\nrunners:\n  config: \"\"\n  secret: other\n",
                vec![
                    "podAnnotations.\"gitlabrunner.io/token-digest\"",
                    "runners.config",
                    "runners.secret",
                ],
            ),
        ];
        for (yaml, expected) in cases {
            let error = merge_user_values(&typed(), yaml).expect_err(yaml);
            assert_eq!(
                error,
                MergeError::Conflicts {
                    paths: expected.iter().map(|p| (*p).to_owned()).collect()
                },
                "{yaml}"
            );
            for path in &expected {
                assert!(error.to_string().contains(path), "{error}");
            }
        }
    }

    #[test]
    fn null_removes_a_key_the_typed_values_do_not_set() {
        let typed = json!({ "a": 1 });
        let merged = merge_user_values(&typed, "b: null\n").expect("merges");
        assert_eq!(merged, json!({ "a": 1 }));
    }

    #[test]
    fn empty_or_comment_only_yaml_changes_nothing() {
        for yaml in ["", "   \n", "# nothing here\n"] {
            assert_eq!(
                merge_user_values(&typed(), yaml).as_ref(),
                Ok(&typed()),
                "{yaml:?}"
            );
        }
    }

    #[test]
    fn bad_yaml_is_reported_with_its_position_and_non_mappings_are_refused() {
        let error = merge_user_values(&typed(), "a: 1\nb: [1, 2\n").expect_err("invalid");
        let MergeError::InvalidYaml { line, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(line.is_some(), "{error}");
        assert_eq!(
            merge_user_values(&typed(), "- a\n- b\n"),
            Err(MergeError::NotAMapping { found: "a list" })
        );
    }

    #[test]
    fn deep_flow_nesting_and_huge_documents_are_refused_before_parsing() {
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let error = parse_user_values(&deep).unwrap_err();
        assert_eq!(
            error,
            MergeError::Limit(yaml_guard::LimitError::TooDeep { max: 256, line: 1 })
        );
        assert!(
            error.to_string().contains("more than 256 levels"),
            "{error}"
        );
        let huge = format!("a: \"{}\"\n", "x".repeat(8 * 1024 * 1024));
        assert!(matches!(
            parse_user_values(&huge),
            Err(MergeError::Limit(yaml_guard::LimitError::TooLarge { .. }))
        ));
        // Ordinary nesting is untouched.
        assert_eq!(
            parse_user_values("a: [[1], {b: [2]}]\n").unwrap()["a"],
            json!([[1], {"b": [2]}])
        );
    }
}
