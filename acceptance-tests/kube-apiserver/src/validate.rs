//! Name and key validation as the real API server does it (DNS-1123 rules, data keys).

use crate::status::Cause;

fn is_alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, ≤63.
pub fn dns1123_label(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("a lowercase RFC 1123 label must not be empty".to_string());
    }
    if value.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    let ok = value.chars().all(|c| is_alnum_lower(c) || c == '-')
        && value.starts_with(is_alnum_lower)
        && value.ends_with(is_alnum_lower);
    if ok {
        None
    } else {
        Some("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string())
    }
}

/// A DNS-1123 subdomain: dot-separated labels, ≤253 characters.
pub fn dns1123_subdomain(value: &str) -> Option<String> {
    if value.len() > 253 {
        return Some("must be no more than 253 characters".to_string());
    }
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| is_alnum_lower(c) || c == '-' || c == '.')
        && value.starts_with(is_alnum_lower)
        && value.ends_with(is_alnum_lower)
        && value.split('.').all(|part| {
            !part.is_empty() && part.starts_with(is_alnum_lower) && part.ends_with(is_alnum_lower)
        });
    if ok {
        None
    } else {
        Some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
    }
}

/// Object name validation; RBAC objects only need a path-segment-safe name.
pub fn object_name(name: &str, label_names: bool, rbac: bool) -> Option<Cause> {
    let problem = if name.is_empty() {
        Some("name or generateName is required".to_string())
    } else if rbac {
        (name == "." || name == ".." || name.contains('/') || name.contains('%'))
            .then(|| "may not contain '/' or '%' and may not be '.' or '..'".to_string())
    } else if label_names {
        dns1123_label(name)
    } else {
        dns1123_subdomain(name)
    };
    problem.map(|message| Cause {
        reason: if name.is_empty() {
            "FieldValueRequired"
        } else {
            "FieldValueInvalid"
        },
        message: if name.is_empty() {
            "Required value: name or generateName is required".to_string()
        } else {
            format!("Invalid value: \"{name}\": {message}")
        },
        field: "metadata.name".to_string(),
    })
}

/// Secret and ConfigMap data keys: `[-._a-zA-Z0-9]+`, ≤253, not `.` or `..`.
pub fn data_key(field: &str, key: &str) -> Option<Cause> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    (!ok).then(|| Cause {
        reason: "FieldValueInvalid",
        message: format!(
            "Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        ),
        field: format!("{field}[{key}]"),
    })
}

/// Label keys: optional DNS subdomain prefix + '/' + name part (≤63, alnum, '-', '_', '.').
pub fn label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && dns1123_subdomain(p).is_some()
    {
        return false;
    }
    label_value(name) && !name.is_empty()
}

/// Label values: empty or ≤63 chars of alnum, '-', '_', '.', starting and ending alnum.
pub fn label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_subdomain("sh.helm.release.v1.a.v1").is_none());
        assert!(dns1123_subdomain("Bad_Name").is_some());
        assert!(dns1123_subdomain("-x").is_some());
        assert!(dns1123_label("a.b").is_some());
        assert!(dns1123_label("ok-1").is_none());
        assert!(object_name("system:foo", false, true).is_none());
        assert!(object_name("", false, false).is_some());
    }

    #[test]
    fn keys() {
        assert!(data_key("data", "config.template.toml").is_none());
        assert!(data_key("data", "a/b").is_some());
        assert!(data_key("data", "..").is_some());
        assert!(label_key("app.kubernetes.io/name"));
        assert!(!label_key("bad key"));
        assert!(label_value(""));
        assert!(!label_value("-x"));
    }
}
