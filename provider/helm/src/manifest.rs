//! Splitting a release manifest (multi-document YAML) into objects.

use crate::kinds::{ResolvedKind, resolve_kind};

/// One object of a rendered manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `None` for cluster-scoped kinds; the release namespace when the manifest does not say.
    pub namespace: Option<String>,
    /// The object as rendered, as JSON.
    pub body: serde_json::Value,
    pub resolved: ResolvedKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("manifest document {index} is not valid YAML: {reason}")]
    Yaml { index: usize, reason: String },
    #[error("manifest document {index} has no {missing}")]
    Incomplete { index: usize, missing: &'static str },
    /// The limit's message is part of this one, so it is not also the `source()`.
    #[error("the manifest is not parsed: {0}")]
    Limit(yaml_guard::LimitError),
}

impl From<yaml_guard::LimitError> for ManifestError {
    fn from(error: yaml_guard::LimitError) -> ManifestError {
        ManifestError::Limit(error)
    }
}

/// Parses every non-empty document of `manifest`. Documents that are empty or only comments are
/// skipped; `List` kinds are expanded into their items.
pub fn parse_manifest(
    manifest: &str,
    release_namespace: &str,
) -> Result<Vec<ManifestObject>, ManifestError> {
    // Before the parser, whose work grows with flow nesting times length.
    yaml_guard::check(manifest, &yaml_guard::Limits::DEFAULT)?;
    let mut objects = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(manifest).enumerate() {
        let value =
            <serde_json::Value as serde::Deserialize>::deserialize(document).map_err(|error| {
                ManifestError::Yaml {
                    index,
                    reason: yaml_reason(&error),
                }
            })?;
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::Object(ref map)
                if map.get("kind").and_then(|k| k.as_str()) == Some("List") =>
            {
                for item in map
                    .get("items")
                    .and_then(|items| items.as_array())
                    .into_iter()
                    .flatten()
                {
                    objects.push(object_from(index, item.clone(), release_namespace)?);
                }
            }
            other => objects.push(object_from(index, other, release_namespace)?),
        }
    }
    Ok(objects)
}

/// Only the location: the message of a YAML error could quote a secret value.
fn yaml_reason(error: &serde_yaml_ng::Error) -> String {
    error.location().map_or_else(
        || "syntax error".to_string(),
        |at| format!("syntax error at line {}, column {}", at.line(), at.column()),
    )
}

fn object_from(
    index: usize,
    body: serde_json::Value,
    release_namespace: &str,
) -> Result<ManifestObject, ManifestError> {
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let api_version = text("/apiVersion").ok_or(ManifestError::Incomplete {
        index,
        missing: "apiVersion",
    })?;
    let kind = text("/kind").ok_or(ManifestError::Incomplete {
        index,
        missing: "kind",
    })?;
    let name = text("/metadata/name").ok_or(ManifestError::Incomplete {
        index,
        missing: "metadata.name",
    })?;
    let resolved = resolve_kind(&api_version, &kind);
    let namespace = resolved.namespaced.then(|| {
        text("/metadata/namespace")
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| release_namespace.to_string())
    });
    Ok(ManifestObject {
        api_version,
        kind,
        name,
        namespace,
        body,
        resolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_error_says_its_cause_once() {
        let error = ManifestError::from(yaml_guard::LimitError::TooDeep { max: 64, line: 3 });
        assert!(
            error
                .to_string()
                .ends_with("more than 64 levels deep (at line 3)")
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    const MANIFEST: &str = "---
# Source: gitlab-runner/templates/service-account.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner-gitlab-runner
---
# Source: gitlab-runner/templates/empty.yaml
# only a comment
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: runner-cluster
rules: []
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: runner-gitlab-runner
  namespace: other
spec:
  replicas: 1
";

    #[test]
    fn parses_documents_and_skips_empty_ones() {
        let objects = parse_manifest(MANIFEST, "ci").unwrap();
        let summary: Vec<(&str, &str, Option<&str>)> = objects
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str(), o.namespace.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("ServiceAccount", "runner-gitlab-runner", Some("ci")),
                ("ClusterRole", "runner-cluster", None),
                ("Deployment", "runner-gitlab-runner", Some("other")),
            ]
        );
        assert_eq!(objects[2].body["spec"]["replicas"], 1);
    }

    #[test]
    fn empty_manifest_has_no_objects() {
        assert!(parse_manifest("", "ci").unwrap().is_empty());
        assert!(
            parse_manifest("---\n# nothing\n---\n", "ci")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn broken_yaml_reports_where_but_not_what() {
        let error = parse_manifest(
            "apiVersion: v1\nkind: Secret\nstringData: {token: \"glrt-secret\n",
            "ci",
        )
        .unwrap_err();
        assert!(matches!(error, ManifestError::Yaml { .. }));
        assert!(!error.to_string().contains("glrt-secret"), "{error}");
    }

    #[test]
    fn objects_without_identity_are_errors() {
        let error =
            parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "ci").unwrap_err();
        assert_eq!(
            error,
            ManifestError::Incomplete {
                index: 0,
                missing: "metadata.name"
            }
        );
    }

    #[test]
    fn list_documents_are_expanded() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n";
        let objects = parse_manifest(list, "ci").unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].name, "a");
    }

    #[test]
    fn deeply_nested_flow_collections_are_refused_before_parsing() {
        let deep = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {}{}\n",
            "[".repeat(16_000),
            "]".repeat(16_000)
        );
        assert_eq!(
            parse_manifest(&deep, "ci"),
            Err(ManifestError::Limit(yaml_guard::LimitError::TooDeep {
                max: 256,
                line: 4
            }))
        );
    }
}
