//! Field-by-field comparison of a manifest object with its live counterpart, looking only at what
//! the manifest sets. Anything the server or a controller adds (defaults, status, extra labels,
//! injected sidecars) is not drift.
//!
//! Rules:
//! - maps: every key the manifest sets is compared; extra live keys are ignored;
//! - lists of objects that all carry a `name` (containers, env, volumes, ports…): matched by name,
//!   extra live elements ignored; other lists: element by element, and a live list of a different
//!   length is a change;
//! - scalars: equal JSON, or numerically equal numbers, or a string and a number/bool with the
//!   same meaning (`"1"` vs `1`; YAML 1.1 `0644` vs 420 and `yes` vs true, since helm renders
//!   with YAML 1.1 and we parse 1.2), or two Kubernetes quantities of the same value (`"0.5"`
//!   vs `"500m"`, `"1Gi"` vs `"1024Mi"`) are equal;
//! - a manifest value that is `null`, empty (`{}`, `[]`, `""`), `false` or `0` matches a missing
//!   live field (the API server omits zero values);
//! - top level: `apiVersion`, `kind`, `status` are skipped; of `metadata` only `labels` and
//!   `annotations` are compared;
//! - Secrets: `data` is compared as decoded bytes; `stringData.k` is compared with the decoded
//!   live `data.k`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// One difference found, before it is attached to an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDifference {
    /// Dotted path, list elements as `[3]` or `[name=web]`.
    pub path: String,
    pub missing: bool,
    pub expected: Value,
    pub actual: Option<Value>,
}

/// Compares a manifest object with the live object.
pub fn compare_object(kind: &str, desired: &Value, live: &Value) -> Vec<FieldDifference> {
    let mut differences = Vec::new();
    let (Some(desired), Some(live_map)) = (desired.as_object(), live.as_object()) else {
        return differences;
    };
    for (key, value) in desired {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => compare_metadata(value, live_map.get("metadata"), &mut differences),
            "data" if kind == "Secret" => {
                compare_secret_data(value, live_map.get("data"), "data", false, &mut differences)
            }
            "stringData" if kind == "Secret" => {
                compare_secret_data(
                    value,
                    live_map.get("data"),
                    "stringData",
                    true,
                    &mut differences,
                );
            }
            _ => compare_value(value, live_map.get(key), key, &mut differences),
        }
    }
    differences
}

fn compare_metadata(desired: &Value, live: Option<&Value>, out: &mut Vec<FieldDifference>) {
    for field in ["labels", "annotations"] {
        if let Some(value) = desired.get(field) {
            compare_value(
                value,
                live.and_then(|m| m.get(field)),
                &format!("metadata.{field}"),
                out,
            );
        }
    }
}

fn compare_secret_data(
    desired: &Value,
    live_data: Option<&Value>,
    prefix: &str,
    plain: bool,
    out: &mut Vec<FieldDifference>,
) {
    let Some(desired) = desired.as_object() else {
        return;
    };
    for (key, value) in desired {
        let path = format!("{prefix}.{}", path_key(key));
        let expected: Option<Vec<u8>> = match value {
            Value::Null => continue,
            Value::String(text) if plain => Some(text.as_bytes().to_vec()),
            Value::String(text) => STANDARD.decode(text.trim()).ok(),
            _ => None,
        };
        let actual = live_data
            .and_then(|data| data.get(key))
            .and_then(Value::as_str);
        match (expected, actual) {
            (Some(expected), None) if expected.is_empty() => {}
            (_, None) => out.push(FieldDifference {
                path,
                missing: true,
                expected: value.clone(),
                actual: None,
            }),
            (Some(expected), Some(actual)) => {
                if STANDARD.decode(actual.trim()).ok().as_deref() != Some(expected.as_slice()) {
                    out.push(FieldDifference {
                        path,
                        missing: false,
                        expected: value.clone(),
                        actual: Some(Value::String(actual.to_string())),
                    });
                }
            }
            (None, Some(actual)) => {
                if value.as_str() != Some(actual) {
                    out.push(FieldDifference {
                        path,
                        missing: false,
                        expected: value.clone(),
                        actual: Some(Value::String(actual.to_string())),
                    });
                }
            }
        }
    }
}

fn compare_value(
    desired: &Value,
    live: Option<&Value>,
    path: &str,
    out: &mut Vec<FieldDifference>,
) {
    let Some(live) = live.filter(|live| !live.is_null()) else {
        if !is_zero(desired) {
            out.push(FieldDifference {
                path: path.to_string(),
                missing: true,
                expected: desired.clone(),
                actual: None,
            });
        }
        return;
    };
    match (desired, live) {
        (Value::Null, _) => {}
        (Value::Object(desired), Value::Object(live)) => {
            for (key, value) in desired {
                compare_value(
                    value,
                    live.get(key),
                    &format!("{path}.{}", path_key(key)),
                    out,
                );
            }
        }
        (Value::Array(desired), Value::Array(live)) => compare_list(desired, live, path, out),
        (desired, live) if scalars_equal(desired, live) => {}
        (desired, live) => out.push(FieldDifference {
            path: path.to_string(),
            missing: false,
            expected: desired.clone(),
            actual: Some(live.clone()),
        }),
    }
}

fn compare_list(desired: &[Value], live: &[Value], path: &str, out: &mut Vec<FieldDifference>) {
    if let Some(desired_named) = named_elements(desired)
        && let Some(live_named) = named_elements(live)
    {
        for (name, element) in desired_named {
            let element_path = format!("{path}[name={name}]");
            match live_named.iter().find(|(live_name, _)| *live_name == name) {
                Some((_, live_element)) => {
                    compare_value(element, Some(live_element), &element_path, out)
                }
                None => out.push(FieldDifference {
                    path: element_path,
                    missing: true,
                    expected: element.clone(),
                    actual: None,
                }),
            }
        }
        return;
    }
    for (index, element) in desired.iter().enumerate() {
        compare_value(element, live.get(index), &format!("{path}[{index}]"), out);
    }
    if live.len() > desired.len() {
        out.push(FieldDifference {
            path: path.to_string(),
            missing: false,
            expected: Value::Array(desired.to_vec()),
            actual: Some(Value::Array(live.to_vec())),
        });
    }
}

/// `Some` when every element is an object with a string `name` (and there is at least one).
fn named_elements(list: &[Value]) -> Option<Vec<(&str, &Value)>> {
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|element| {
            element
                .get("name")
                .and_then(Value::as_str)
                .map(|name| (name, element))
        })
        .collect()
}

fn path_key(key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']', ' ', '/']) {
        format!("[{key:?}]")
    } else {
        key.to_string()
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty() || o.values().all(is_zero),
    }
}

fn scalars_equal(desired: &Value, live: &Value) -> bool {
    if desired == live {
        return true;
    }
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a.as_f64(), b.as_f64()),
        (Value::String(text), Value::Number(number))
        | (Value::Number(number), Value::String(text)) => {
            numbers_equal(parse_quantity(text), number.as_f64())
                || numbers_equal(yaml11_integer(text), number.as_f64())
        }
        (Value::String(text), Value::Bool(flag)) | (Value::Bool(flag), Value::String(text)) => {
            yaml11_bool(text) == Some(*flag)
        }
        (Value::String(a), Value::String(b)) => numbers_equal(parse_quantity(a), parse_quantity(b)),
        _ => false,
    }
}

fn numbers_equal(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()) * 4.0,
        _ => false,
    }
}

/// helm renders manifests with YAML 1.1 rules, where `0644` is octal (420), `0x1F` hex and
/// `1_000` a number; we parse YAML 1.2, which keeps them as strings.
fn yaml11_integer(text: &str) -> Option<f64> {
    let text = text.trim().replace('_', "");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text.trim_start_matches('+').to_string()),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    #[allow(clippy::cast_precision_loss)] // file modes and counts: far below 2^53
    let value = value as f64;
    Some(if negative { -value } else { value })
}

/// YAML 1.1 booleans (`yes`, `on`, `y`…), which YAML 1.2 reads as strings.
fn yaml11_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" => Some(true),
        "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// The value of a Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`, `1.5k`), `None` otherwise.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|number| (number, *factor)))
        .unwrap_or((text, 1.0));
    let valid = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'))
        && number.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    number.parse::<f64>().ok().map(|value| value * factor)
}
