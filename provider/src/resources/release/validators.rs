//! Named validators of the release's attributes that tfplugin's generic ones do not cover. The
//! server runs them at validate time (known, non-null values only), so the mapping to chart
//! values (`mapping.rs`) never re-checks them.

use tfplugin::validators::{FnValidator, from_fn};
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Value};

type Check = fn(&Value, &AttributePath, &mut Diagnostics);

/// `sha256:` followed by 64 lowercase hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `token_digest`: a digest (`sha256:` and 64 hex digits), never the token itself.
pub fn token_digest() -> FnValidator<Check> {
    from_fn(
        "a digest such as gitlabrunner_token_secret.<name>.token_digest (\"sha256:\" and 64 hex digits)",
        (|value, path, diagnostics| {
            let Some(text) = value.as_str() else { return };
            if !is_digest(text) {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid Token Digest",
                        "token_digest must be a digest such as gitlabrunner_token_secret.<name>.token_digest (\"sha256:\" and 64 hex digits) — never the token itself.",
                    )
                    .at(path.clone()),
                );
            }
        }) as Check,
    )
}

/// Whether `text` is a JSON object.
pub fn is_json_object(text: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(text),
        Ok(serde_json::Value::Object(_))
    )
}

/// `affinity`: a JSON object (a Kubernetes Affinity), as `jsonencode({...})` writes it.
pub fn affinity() -> FnValidator<Check> {
    from_fn(
        "a JSON object (a Kubernetes Affinity), e.g. jsonencode({ nodeAffinity = { … } })",
        (|value, path, diagnostics| {
            let Some(text) = value.as_str() else { return };
            if !is_json_object(text) {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid Affinity",
                        "affinity must be a JSON object (a Kubernetes Affinity), e.g. jsonencode({ nodeAffinity = { … } }).",
                    )
                    .at(path.clone()),
                );
            }
        }) as Check,
    )
}

#[cfg(test)]
mod tests {
    use super::super::schema::schema;
    use super::*;

    /// The diagnostics the schema's own validators of `attribute` give for `value`.
    fn validate(attribute: &str, value: Value) -> Diagnostics {
        let schema = schema();
        let definition = schema
            .block
            .attributes
            .get(attribute)
            .unwrap_or_else(|| panic!("{attribute} is not in the schema"));
        let path = AttributePath::new(attribute);
        let mut diagnostics = Diagnostics::new();
        for validator in &definition.validators {
            validator.validate(&value, &path, &mut diagnostics);
        }
        diagnostics
    }

    #[test]
    fn the_schema_refuses_what_the_mapping_cannot_use_at_its_attribute() {
        let digest = format!("sha256:{}", "a".repeat(64));
        // (attribute, value, accepted, summary when refused)
        let cases: Vec<(&str, Value, bool, &str)> = vec![
            ("token_digest", Value::from(digest.as_str()), true, ""),
            (
                "token_digest",
                Value::from("glrt-notadigest"),
                false,
                "Invalid Token Digest",
            ),
            (
                "token_digest",
                Value::from(format!("sha256:{}", "A".repeat(64))),
                false,
                "Invalid Token Digest",
            ),
            (
                "token_digest",
                Value::from("sha256:abc"),
                false,
                "Invalid Token Digest",
            ),
            ("affinity", Value::from("{\"nodeAffinity\":{}}"), true, ""),
            ("affinity", Value::from("[1]"), false, "Invalid Affinity"),
            (
                "affinity",
                Value::from("{not json"),
                false,
                "Invalid Affinity",
            ),
            ("log_level", Value::from("debug"), true, ""),
            (
                "log_level",
                Value::from("verbose"),
                false,
                "Invalid Attribute Value",
            ),
            ("log_format", Value::from("json"), true, ""),
            (
                "log_format",
                Value::from("xml"),
                false,
                "Invalid Attribute Value",
            ),
            ("drain_timeout", Value::from("1h30m"), true, ""),
            (
                "drain_timeout",
                Value::from("soon"),
                false,
                "Invalid Duration",
            ),
            ("on_drain_timeout", Value::from("force"), true, ""),
            (
                "on_drain_timeout",
                Value::from("later"),
                false,
                "Invalid Attribute Value",
            ),
            (
                "termination_grace_period_seconds",
                Value::from(30_i64),
                true,
                "",
            ),
            (
                "termination_grace_period_seconds",
                Value::from(-1_i64),
                false,
                "Invalid Attribute Value",
            ),
            (
                "concurrent",
                Value::from(0_i64),
                false,
                "Invalid Attribute Value",
            ),
            (
                "replicas",
                Value::from(101_i64),
                false,
                "Invalid Attribute Value",
            ),
        ];
        for (attribute, value, accepted, summary) in cases {
            let diagnostics = validate(attribute, value.clone());
            let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
            if accepted {
                assert!(errors.is_empty(), "{attribute} = {value:?}: {errors:?}");
                continue;
            }
            assert_eq!(errors.len(), 1, "{attribute} = {value:?}: {errors:?}");
            assert_eq!(errors[0].summary, summary, "{attribute} = {value:?}");
            assert_eq!(
                errors[0]
                    .attribute
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref(),
                Some(attribute),
                "{attribute} = {value:?}"
            );
            assert!(
                !format!("{errors:?}").contains("glrt-notadigest"),
                "the value is echoed: {errors:?}"
            );
        }
    }

    #[test]
    fn the_drain_settings_accept_what_the_schema_accepts_and_share_its_defaults() {
        for choice in crate::drain::OnDrainTimeout::ALL {
            let text = choice.as_str();
            assert!(validate("on_drain_timeout", Value::from(text)).is_empty());
            assert_eq!(text.parse::<crate::drain::OnDrainTimeout>(), Ok(choice));
        }
        let attributes = schema().block.attributes;
        let default = |name: &str| {
            attributes[name]
                .default
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        assert_eq!(
            default("on_drain_timeout").as_deref(),
            Some(crate::drain::OnDrainTimeout::default().as_str())
        );
        let drain_timeout = default("drain_timeout").expect("a default");
        assert_eq!(
            tfplugin::duration::parse_go_duration(&drain_timeout).ok(),
            Some(crate::drain::DEFAULT_DRAIN_TIMEOUT)
        );
    }
}
