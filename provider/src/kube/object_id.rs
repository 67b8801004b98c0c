//! `namespace/name` identifiers (resource `id` and import IDs) and DNS-1123 name checks.

use std::fmt;

use tfplugin::validators::{FnValidator, from_fn};
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Value};

/// A namespaced object's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectId {
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> ObjectId {
        ObjectId {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses an import ID; the error is the diagnostic Terraform shows.
    pub fn parse_import_id(id: &str) -> Result<ObjectId, Diagnostic> {
        let invalid = |why: &str| {
            Diagnostic::error(
                "Invalid Import ID",
                format!("Expected \"namespace/name\", got {id:?}{why}."),
            )
        };
        let Some((namespace, name)) = id.split_once('/') else {
            return Err(invalid(""));
        };
        if name.contains('/') {
            return Err(invalid(" (more than one \"/\")"));
        }
        if !is_dns1123_label(namespace) {
            return Err(invalid(
                ": the namespace must be a DNS-1123 label (lowercase letters, digits and \"-\", at most 63 characters)",
            ));
        }
        if !is_dns1123_subdomain(name) {
            return Err(invalid(
                ": the name must be a DNS-1123 subdomain (lowercase letters, digits, \"-\" and \".\", at most 253 characters)",
            ));
        }
        Ok(ObjectId::new(namespace, name))
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (namespaces).
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (most object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

type Check = fn(&Value, &AttributePath, &mut Diagnostics);

/// Validator for namespace attributes.
pub fn dns1123_label_validator() -> FnValidator<Check> {
    from_fn(
        "must be a DNS-1123 label: lowercase letters, digits and \"-\", starting and ending with a letter or digit, at most 63 characters",
        |value, path, diagnostics| {
            if let Some(s) = value.as_str()
                && !is_dns1123_label(s)
            {
                {
                    diagnostics.attribute_error(
                        path.clone(),
                        "Invalid Kubernetes Name",
                        format!("{path} must be a DNS-1123 label (lowercase letters, digits and \"-\", starting and ending with a letter or digit, at most 63 characters), got {s:?}."),
                    );
                }
            }
        },
    )
}

/// Validator for object name attributes.
pub fn dns1123_subdomain_validator() -> FnValidator<Check> {
    from_fn(
        "must be a DNS-1123 subdomain: lowercase letters, digits, \"-\" and \".\", each dot-separated part starting and ending with a letter or digit, at most 253 characters",
        |value, path, diagnostics| {
            if let Some(s) = value.as_str()
                && !is_dns1123_subdomain(s)
            {
                {
                    diagnostics.attribute_error(
                        path.clone(),
                        "Invalid Kubernetes Name",
                        format!("{path} must be a DNS-1123 subdomain (lowercase letters, digits, \"-\" and \".\", each part starting and ending with a letter or digit, at most 253 characters), got {s:?}."),
                    );
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::validators::Validator;

    #[test]
    fn dns_names() {
        for ok in ["a", "runner-1", "0abc", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
        assert!(is_dns1123_subdomain("gitlab-runner.token"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain("Runner"));
    }

    #[test]
    fn validators_attach_the_attribute_path() {
        let mut d = Diagnostics::new();
        dns1123_label_validator().validate(
            &Value::from("Bad_NS"),
            &AttributePath::new("namespace"),
            &mut d,
        );
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.attribute, Some(AttributePath::new("namespace")));
        assert!(diag.detail.contains("\"Bad_NS\""));
        let mut ok = Diagnostics::new();
        dns1123_subdomain_validator().validate(
            &Value::from("runner.token"),
            &AttributePath::new("name"),
            &mut ok,
        );
        assert!(ok.is_empty());
    }

    #[test]
    fn import_ids() {
        assert_eq!(
            ObjectId::parse_import_id("ns/name").unwrap(),
            ObjectId::new("ns", "name")
        );
        for bad in ["name", "ns/a/b", "/name", "NS/name", "ns/"] {
            let d = ObjectId::parse_import_id(bad).unwrap_err();
            assert!(
                d.detail
                    .starts_with(&format!("Expected \"namespace/name\", got {bad:?}")),
                "{}",
                d.detail
            );
        }
    }
}
