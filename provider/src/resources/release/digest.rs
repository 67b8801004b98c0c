//! `values_digest`: sha256 of the canonical JSON of chart values, so the values the
//! configuration wants and the values helm recorded compare equal exactly when they are equal.
//!
//! Canonical form: object keys sorted, no whitespace, and whole numbers written as integers
//! (helm reads values as float64, so `10` and `10.0` are the same value).

use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of the canonical JSON of `values`.
pub fn values_digest(values: &Json) -> String {
    let mut text = String::new();
    canonical(values, &mut text);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

fn canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // Whole and exactly representable: print as an integer.
                #[allow(clippy::cast_possible_truncation)]
                out.push_str(&(f as i64).to_string());
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_number_spelling_do_not_matter() {
        let a = json!({"b": 10, "a": {"y": [1, 2], "x": "s"}});
        let b: Json = serde_json::from_str(r#"{"a":{"x":"s","y":[1.0,2]},"b":10.0}"#).unwrap();
        assert_eq!(values_digest(&a), values_digest(&b));
        assert_ne!(
            values_digest(&a),
            values_digest(&json!({"b": 11, "a": {"y": [1, 2], "x": "s"}}))
        );
        assert!(values_digest(&a).starts_with("sha256:"));
    }
}
