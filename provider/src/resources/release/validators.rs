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

/// The longest `secret_digests` key: `<key>-digest` is an annotation name (at most 63).
pub const MAX_SECRET_DIGEST_NAME: usize = 56;

/// Whether `name` can name a `secret_digests` entry: lowercase letters, digits and `-`,
/// starting and ending with a letter or digit (it becomes `gitlabrunner.io/<name>-digest`).
pub fn is_secret_digest_name(name: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    (1..=MAX_SECRET_DIGEST_NAME).contains(&bytes.len())
        && bytes.first().copied().is_some_and(alnum)
        && bytes.last().copied().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(*b) || *b == b'-')
}

/// `secret_digests`: each key a short name, each value a digest (never a secret), at the entry.
pub fn secret_digests() -> FnValidator<Check> {
    from_fn(
        "a map of names (lowercase letters, digits, \"-\") to digests such as gitlabrunner_cache_secret.<name>.credentials_digest",
        (|value, path, diagnostics| {
            for (name, digest) in value.as_entries().into_iter().flatten() {
                let at = path.key(name.clone());
                if !is_secret_digest_name(name) {
                    diagnostics.push(
                        Diagnostic::error(
                            "Invalid Secret Digest Name",
                            format!("{name:?} cannot name a secret digest: it becomes the pod annotation gitlabrunner.io/<name>-digest, so use lowercase letters, digits and \"-\" (at most {MAX_SECRET_DIGEST_NAME} characters), e.g. token, certs, cache."),
                        )
                        .at(at.clone()),
                    );
                }
                if digest.as_str().is_some_and(|d| !is_digest(d)) {
                    diagnostics.push(
                        Diagnostic::error(
                            "Invalid Secret Digest",
                            format!("secret_digests[{name:?}] must be a digest such as gitlabrunner_cache_secret.<name>.credentials_digest or gitlabrunner_cert_secret.<name>.certs_digest (\"sha256:\" and 64 hex digits) — never the secret itself."),
                        )
                        .at(at),
                    );
                }
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
            (
                "secret_digests",
                Value::Map(
                    [
                        ("cache".to_owned(), Value::from(digest.as_str())),
                        ("certs".to_owned(), Value::Unknown),
                    ]
                    .into(),
                ),
                true,
                "",
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

    #[test]
    fn a_bad_secret_digest_is_refused_at_its_entry_without_echoing_it() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases = [
            ("cache", "AKIASECRETVALUE", "Invalid Secret Digest"),
            ("Cache.Key", digest.as_str(), "Invalid Secret Digest Name"),
            ("-x", digest.as_str(), "Invalid Secret Digest Name"),
        ];
        for (name, value, summary) in cases {
            let map = Value::Map([(name.to_owned(), Value::from(value))].into());
            let diagnostics = validate("secret_digests", map);
            let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            assert_eq!(errors[0].summary, summary);
            assert_eq!(
                errors[0].attribute.as_ref().map(ToString::to_string),
                Some(format!("secret_digests[{name:?}]"))
            );
            assert!(!format!("{errors:?}").contains("AKIASECRETVALUE"));
        }
        assert!(is_secret_digest_name(&"a".repeat(MAX_SECRET_DIGEST_NAME)));
        assert!(!is_secret_digest_name(
            &"a".repeat(MAX_SECRET_DIGEST_NAME + 1)
        ));
    }
}
