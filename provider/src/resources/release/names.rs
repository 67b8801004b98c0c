//! Name rules checked at plan time: release names, DNS-1123 labels and subdomains, and the
//! `namespace/name` import ID.

use tfplugin::validators::{FnValidator, from_fn};
use tfplugin::{AttributePath, Diagnostics, Value};

/// Longest release name helm accepts.
pub const MAX_RELEASE_NAME: usize = 53;

/// Why `text` is not a DNS-1123 label of at most `max` characters, if it is not.
pub fn label_problem(text: &str, max: usize) -> Option<String> {
    if text.is_empty() {
        return Some("must not be empty".into());
    }
    if text.len() > max {
        return Some(format!(
            "must be at most {max} characters, got {}",
            text.len()
        ));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("may contain only lowercase letters, digits and '-'".into());
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// Why `text` is not a DNS-1123 subdomain (Secret names), if it is not.
pub fn subdomain_problem(text: &str) -> Option<String> {
    if text.len() > 253 {
        return Some(format!(
            "must be at most 253 characters, got {}",
            text.len()
        ));
    }
    text.split('.')
        .find_map(|part| label_problem(part, 63))
        .map(|problem| format!("each dot-separated part {problem}"))
}

type Check = fn(&Value, &AttributePath, &mut Diagnostics);

fn check_with(
    value: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
    rule: impl Fn(&str) -> Option<String>,
    what: &str,
) {
    if let Some(text) = value.as_str()
        && let Some(problem) = rule(text)
    {
        diags.attribute_error(
            path.clone(),
            "Invalid Name",
            format!("{path} {problem} ({what}), got {text:?}."),
        );
    }
}

/// A helm release name: a DNS-1123 label of at most 53 characters.
pub fn release_name() -> FnValidator<Check> {
    from_fn(
        "a DNS-1123 label of at most 53 characters",
        (|value, path, diags| {
            check_with(
                value,
                path,
                diags,
                |t| label_problem(t, MAX_RELEASE_NAME),
                "a helm release name is a DNS-1123 label of at most 53 characters",
            )
        }) as Check,
    )
}

/// A namespace: a DNS-1123 label.
pub fn dns_label() -> FnValidator<Check> {
    from_fn(
        "a DNS-1123 label",
        (|value, path, diags| {
            check_with(
                value,
                path,
                diags,
                |t| label_problem(t, 63),
                "a DNS-1123 label",
            )
        }) as Check,
    )
}

/// An object name: a DNS-1123 subdomain.
pub fn dns_subdomain() -> FnValidator<Check> {
    from_fn(
        "a DNS-1123 subdomain",
        (|value, path, diags| {
            check_with(
                value,
                path,
                diags,
                subdomain_problem,
                "a DNS-1123 subdomain",
            )
        }) as Check,
    )
}

/// Splits an import ID `namespace/name`.
pub fn parse_import_id(id: &str) -> Result<(String, String), String> {
    match id.split_once('/') {
        Some((namespace, name))
            if label_problem(namespace, 63).is_none()
                && label_problem(name, MAX_RELEASE_NAME).is_none() =>
        {
            Ok((namespace.to_owned(), name.to_owned()))
        }
        _ => Err(format!("Expected \"namespace/name\", got {id:?}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert_eq!(label_problem("gitlab-runner", 53), None);
        assert!(label_problem("Runner", 53).is_some());
        assert!(label_problem("-x", 53).is_some());
        assert!(label_problem(&"a".repeat(54), 53).is_some());
        assert_eq!(subdomain_problem("sh.helm.release.v1.x.v1"), None);
        assert!(subdomain_problem("a..b").is_some());
    }

    #[test]
    fn import_ids() {
        assert_eq!(
            parse_import_id("ci/runner"),
            Ok(("ci".into(), "runner".into()))
        );
        for bad in ["runner", "ci/", "/runner", "ci/run/ner", "CI/runner"] {
            let error = parse_import_id(bad).unwrap_err();
            assert!(
                error.starts_with("Expected \"namespace/name\""),
                "{bad}: {error}"
            );
        }
    }
}
