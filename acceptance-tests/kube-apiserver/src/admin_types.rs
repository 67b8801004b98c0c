//! Types shared by the admin surface and its client: faults and request-log records.

use serde::{Deserialize, Serialize};

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this HTTP code and a Status body instead of serving the request.
    Status {
        code: u16,
        #[serde(default)]
        message: Option<String>,
    },
    /// Serve the request normally after sleeping this long.
    Latency { ms: u64 },
    /// Close the connection without answering.
    Drop,
}

/// A fault for the next `count` requests whose method and path match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// HTTP method to match (any when absent), e.g. `PATCH`.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern; `*` matches any run of characters, e.g. `/api/v1/namespaces/*/secrets*`.
    pub path: String,
    /// How many matching requests it affects.
    pub count: u32,
    pub action: FaultAction,
    /// Only requests whose `User-Agent` starts with this (ASCII case-insensitive), e.g. `helm`
    /// to hold helm's requests but not the provider's on the same path; any client when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Fault {
    /// Whether the fault applies to a request.
    pub fn matches(&self, method: &str, path: &str, user_agent: &str) -> bool {
        self.count > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && glob_match(&self.path, path)
            && self.user_agent.as_deref().is_none_or(|prefix| {
                user_agent
                    .get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
    }
}

/// `*`-only glob matching.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(idx) => rest = &rest[idx + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// One served API request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    /// HTTP status answered; 0 when the connection was dropped on purpose.
    pub status: u16,
    pub user_agent: String,
    /// RFC 3339 with milliseconds.
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "/api/v1/namespaces/*/secrets*",
            "/api/v1/namespaces/x/secrets/y"
        ));
        assert!(glob_match("/version", "/version"));
        assert!(!glob_match("/version", "/versions"));
        assert!(glob_match("*", "/anything"));
        assert!(!glob_match(
            "/apis/*/deployments",
            "/apis/apps/v1/namespaces/a/replicasets"
        ));
    }
}
