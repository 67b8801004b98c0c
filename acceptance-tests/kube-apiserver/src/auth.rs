//! Bearer-token authentication and simple per-token authorization rules.

use serde::{Deserialize, Serialize};

/// One allow rule; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessRule {
    /// Namespaces the rule covers (cluster-scoped requests match only when empty).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Resource plurals (`configmaps`, `deployments`), or `*`.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Verbs: get, list, watch, create, update, patch, delete, deletecollection, or `*`.
    #[serde(default)]
    pub verbs: Vec<String>,
}

/// An accepted bearer token; `rules: None` grants everything.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenGrant {
    /// The user name used in Forbidden messages.
    pub user: String,
    pub token: String,
    pub rules: Option<Vec<AccessRule>>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .field("rules", &self.rules)
            .finish()
    }
}

impl TokenGrant {
    /// A token with full access.
    pub fn admin(user: impl Into<String>, token: impl Into<String>) -> Self {
        TokenGrant {
            user: user.into(),
            token: token.into(),
            rules: None,
        }
    }

    /// A token restricted to the given rules.
    pub fn restricted(
        user: impl Into<String>,
        token: impl Into<String>,
        rules: Vec<AccessRule>,
    ) -> Self {
        TokenGrant {
            user: user.into(),
            token: token.into(),
            rules: Some(rules),
        }
    }

    /// Whether this token may perform `verb` on `resource` in `namespace`.
    pub fn allows(&self, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
        let Some(rules) = &self.rules else {
            return true;
        };
        let any_or = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|x| x == "*" || x == value)
        };
        rules.iter().any(|r| {
            any_or(&r.verbs, verb)
                && any_or(&r.resources, resource)
                && match namespace {
                    Some(ns) => any_or(&r.namespaces, ns),
                    None => r.namespaces.is_empty(),
                }
        })
    }
}

/// Compares secrets without early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds the grant for an `Authorization` header value.
pub fn authenticate<'a>(grants: &'a [TokenGrant], header: Option<&str>) -> Option<&'a TokenGrant> {
    let token = header?.strip_prefix("Bearer ")?.trim();
    grants
        .iter()
        .find(|g| constant_time_eq(g.token.as_bytes(), token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let g = TokenGrant::restricted(
            "ci",
            "t",
            vec![AccessRule {
                namespaces: vec!["a".into()],
                resources: vec!["configmaps".into()],
                verbs: vec!["get".into(), "list".into()],
            }],
        );
        assert!(g.allows("get", "configmaps", Some("a")));
        assert!(!g.allows("create", "configmaps", Some("a")));
        assert!(!g.allows("get", "configmaps", Some("b")));
        assert!(!g.allows("get", "namespaces", None));
        assert!(TokenGrant::admin("x", "y").allows("delete", "namespaces", None));
        let grants = vec![g];
        assert!(authenticate(&grants, Some("Bearer t")).is_some());
        assert!(authenticate(&grants, Some("Bearer u")).is_none());
        assert!(authenticate(&grants, None).is_none());
        assert!(!format!("{:?}", grants[0]).contains("\"t\""));
    }
}
