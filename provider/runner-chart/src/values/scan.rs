//! Warnings for credentials anywhere in chart values: Helm keeps values in clear text in its release
//! Secret, and Terraform keeps them in state.

use serde_json::Value;

use crate::credentials::{is_credential_key, looks_like_credential};
use crate::finding::{ConfigPath, Finding, Rule};

/// Warnings for keys named like credentials that hold non-empty strings (`runnerToken`, `password`,
/// `secretkey`, ...) and for strings shaped like GitLab tokens or private keys, anywhere in `values`.
/// Findings name the path, never the value.
pub fn scan_for_credentials(values: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    walk(values, &ConfigPath::root(), &mut findings);
    findings
}

fn advice(path: &ConfigPath) -> &'static str {
    match path.last_key().map(str::to_ascii_lowercase).as_deref() {
        Some("runnertoken" | "runnerregistrationtoken") => {
            "Put the runner token in a Secret with the gitlabrunner_token_secret resource and pass its name \
             (chart value runners.secret) instead."
        }
        _ => {
            "Keep credentials in Kubernetes Secrets and pass their names to the chart (for example \
              runners.cache.secretName for cache credentials) instead."
        }
    }
}

fn walk(value: &Value, path: &ConfigPath, findings: &mut Vec<Finding>) {
    match value {
        Value::Object(map) => {
            // `{name: PASSWORD, value: ...}` (envVars, extraEnv): the name says what the value is.
            let names_a_credential = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_credential_key);
            for (key, child) in map {
                let child_path = path.key(key.as_str());
                let credential_key =
                    is_credential_key(key) || (names_a_credential && key == "value");
                let named_like_credential =
                    credential_key && child.as_str().is_some_and(|text| !text.trim().is_empty());
                if named_like_credential {
                    findings.push(warning(&child_path, "its name says it holds a credential"));
                    continue;
                }
                walk(child, &child_path, findings);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, &path.index(index), findings);
            }
        }
        Value::String(text) if looks_like_credential(text) => {
            findings.push(warning(
                path,
                "it looks like a GitLab token or a private key",
            ));
        }
        _ => {}
    }
}

fn warning(path: &ConfigPath, why: &str) -> Finding {
    let detail = format!(
        "`{path}` is set in the chart values and {why}. Helm stores values in clear text in the \
         release record, and Terraform keeps them in state. {} (The value is not shown.)",
        advice(path)
    );
    Finding::warning(
        Rule::Secret,
        path.clone(),
        "Credential in Chart Values",
        detail,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::finding::Severity;

    #[test]
    fn credentials_are_found_by_key_name_and_by_shape_without_echoing_them() {
        let values = json!({
            "runnerToken": "glrt-Sup3rSecretValue",
            "runnerRegistrationToken": "",
            "runners": {
                "secret": "runner-token-secret",
                "cache": { "secretName": "cache-creds", "s3": { "accesskey": "AKIAEXAMPLEKEY99" } },
                "config": "[[runners]]\n  environment = [\"T=glpat-abcdefghij0123\"]\n",
            },
            "envVars": [{ "name": "PASSWORD", "value": "hunter2hunter2" }, { "name": "X", "value": "GR1348941abcdefghijkl" }],
            "serviceAccount": { "automountServiceAccountToken": true },
            "podAnnotations": { "gitlabrunner.io/token-digest": "sha256:abc" },
            "extra": { "password": "p4ssw0rd!" },
        });
        let findings = scan_for_credentials(&values);
        let paths: Vec<String> = findings.iter().map(|f| f.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "envVars[0].value",
                "envVars[1].value",
                "extra.password",
                "runnerToken",
                "runners.cache.s3.accesskey",
                "runners.config",
            ]
        );
        assert!(
            findings
                .iter()
                .all(|f| f.severity == Severity::Warning && f.rule == Rule::Secret)
        );
        assert!(findings[3].detail.contains("gitlabrunner_token_secret"));
        let shown = format!("{findings:?}");
        for secret in [
            "Sup3rSecret",
            "AKIAEXAMPLE",
            "abcdefghij0123",
            "p4ssw0rd",
            "abcdefghijkl",
            "hunter2",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked");
        }
    }
}
