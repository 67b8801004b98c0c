//! [`KubeError`] and the one place that turns it into a diagnostic.
//!
//! Messages name verbs, resources, namespaces and object names, and quote the API server's
//! own `Status` message (which never carries object data). Response bodies, request bodies and
//! decoding details that could quote a value are never included.

use std::time::Duration;

use kube_connection::ConnectionError;
use tfplugin::Diagnostic;

use super::identity::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use super::request::Action;
#[cfg(test)]
use super::request::Verb;

/// A failed Kubernetes operation.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The provider's `kubernetes` settings do not give a usable connection.
    /// The cause is part of the message (shown as text), so not also the `source()`.
    #[error("cannot connect to Kubernetes: {error}")]
    Connection { error: ConnectionError },

    /// The provider configuration is not known yet (plan of a cluster created in the same apply).
    #[error("the provider's Kubernetes connection is not known yet ({attributes})")]
    ConnectionUnknown { attributes: String },

    /// The API server answered with an error `Status`.
    #[error("{action}: the API server answered {code} {reason}: {message}")]
    Api {
        action: Box<Action>,
        code: u16,
        reason: String,
        message: String,
        /// Whether the `Status` is about the namespace (not the object).
        namespace_missing: bool,
        attempts: u32,
    },

    /// The request did not get an answer (connection refused, reset, TLS failure, …).
    #[error("{action}: no answer from the API server: {message}")]
    Transport {
        action: Box<Action>,
        message: String,
        attempts: u32,
    },

    /// The operation's time limit ran out while retrying.
    #[error("{action}: gave up after {attempts} attempts in {elapsed:?} (last error: {last})")]
    Timeout {
        action: Box<Action>,
        attempts: u32,
        elapsed: Duration,
        limit: Duration,
        last: String,
    },

    /// Terraform asked the provider to stop.
    #[error("{action}: cancelled")]
    Cancelled { action: Box<Action> },

    /// The object exists but this provider did not create it.
    #[error("{kind} {namespace}/{name} exists and is not managed by this provider")]
    NotOwned {
        kind: String,
        namespace: String,
        name: String,
        /// The resource type to name in the `terraform import` hint, e.g. `gitlabrunner_token_secret`.
        resource_type: String,
    },

    /// The answer could not be decoded (only the position is kept: a message could quote data).
    #[error("{action}: the API server's answer could not be decoded ({detail})")]
    Decode { action: Box<Action>, detail: String },

    /// Anything else the client reported.
    #[error("{action}: {message}")]
    Other {
        action: Box<Action>,
        message: String,
    },
}

impl KubeError {
    /// True for an answer that a later attempt may not get (429, 5xx, connection problems).
    pub fn is_transient(&self) -> bool {
        match self {
            KubeError::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            KubeError::Transport { .. } => true,
            _ => false,
        }
    }

    /// True when the object (not its namespace) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            KubeError::Api {
                code: 404,
                namespace_missing: false,
                ..
            }
        )
    }

    /// The diagnostic for this error: a Title Case summary and a detail saying what to do.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            KubeError::Connection { error } => Diagnostic::error(
                "Invalid Kubernetes Connection",
                format!(
                    "{error}. Check the provider's `kubernetes` block (or the KUBE_* variables / KUBECONFIG it falls back to)."
                ),
            ),
            KubeError::ConnectionUnknown { attributes } => Diagnostic::error(
                "Kubernetes Connection Not Known Yet",
                format!(
                    "The provider's Kubernetes settings depend on values not known until apply ({attributes}). Apply the resources that produce them first (for example with -target), then run this again."
                ),
            ),
            KubeError::Api {
                action,
                code,
                message,
                namespace_missing,
                attempts,
                ..
            } => api_diagnostic(action, *code, message, *namespace_missing, *attempts),
            KubeError::Transport {
                action,
                message,
                attempts,
            } => Diagnostic::error(
                "Cannot Reach The Kubernetes API",
                format!(
                    "Could not {action} after {attempts} attempt(s): {message}. Check that the API server address in the provider's `kubernetes` block is reachable from where Terraform runs (VPN, proxy_url, firewall) and that its certificate is trusted."
                ),
            ),
            KubeError::Timeout {
                action,
                attempts,
                elapsed,
                limit,
                last,
            } => Diagnostic::error(
                "Kubernetes Operation Timed Out",
                format!(
                    "Could not {action} within the time limit of {} ({attempts} attempts over {}); the last answer was: {last}. The API server may be overloaded or unreachable: retry later, or raise the resource's `timeouts` value for this operation.",
                    human(*limit),
                    human(*elapsed),
                ),
            ),
            KubeError::Cancelled { action } => Diagnostic::error(
                "Operation Cancelled",
                format!(
                    "Terraform asked the provider to stop while it was trying to {action}. Nothing else was changed; run the command again to finish."
                ),
            ),
            KubeError::NotOwned {
                kind,
                namespace,
                name,
                resource_type,
            } => Diagnostic::error(
                "Object Already Exists",
                format!(
                    "{kind} {namespace}/{name} already exists and was not created by this provider (it lacks the label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}), so it is left untouched. To manage it with Terraform, import it: `terraform import {resource_type}.<resource name> {namespace}/{name}` (or an `import` block with id = \"{namespace}/{name}\"). Otherwise choose another name."
                ),
            ),
            KubeError::Decode { action, detail } => Diagnostic::error(
                "Unexpected Kubernetes Response",
                format!(
                    "The answer to {action} could not be decoded ({detail}). Check that the provider's `kubernetes` settings point at a Kubernetes API server, not a proxy or web page."
                ),
            ),
            KubeError::Other { action, message } => Diagnostic::error(
                "Kubernetes Request Failed",
                format!("Could not {action}: {message}."),
            ),
        }
    }
}

impl From<KubeError> for Diagnostic {
    fn from(error: KubeError) -> Diagnostic {
        error.diagnostic()
    }
}

impl From<KubeError> for tfplugin::Diagnostics {
    fn from(error: KubeError) -> tfplugin::Diagnostics {
        error.diagnostic().into()
    }
}

fn api_diagnostic(
    action: &Action,
    code: u16,
    message: &str,
    namespace_missing: bool,
    attempts: u32,
) -> Diagnostic {
    let server_says = if message.is_empty() {
        String::new()
    } else {
        format!(" The API server said: {}.", message.trim_end_matches('.'))
    };
    let ns = &action.namespace;
    match code {
        401 => Diagnostic::error(
            "Kubernetes Authentication Failed",
            format!(
                "The API server did not accept the provider's credentials when asked to {action}.{server_says} Check the token, client certificate or exec plugin in the provider's `kubernetes` block (or the kubeconfig it uses); they may have expired."
            ),
        ),
        403 => {
            let group = if action.api_group.is_empty() {
                "\"\"".to_owned()
            } else {
                format!("{:?}", action.api_group)
            };
            Diagnostic::error(
                "Kubernetes Permission Denied",
                format!(
                    "The provider's Kubernetes identity may not {verb} {resource} in namespace {ns:?}.{server_says} Grant it a Role in namespace {ns:?} with the rule `apiGroups: [{group}], resources: [\"{resource}\"], verbs: [\"get\", \"create\", \"patch\", \"delete\"]` (the verbs this provider uses) and bind it with a RoleBinding, or use credentials that already have it.",
                    verb = action.verb,
                    resource = action.resource,
                ),
            )
        }
        404 if namespace_missing => Diagnostic::error(
            "Namespace Not Found",
            format!(
                "Namespace {ns:?} does not exist, so the provider cannot {verb} {resource} {name:?} in it. Create the namespace first (for example a kubernetes_namespace resource that this resource references, or `create_namespace = true` on gitlabrunner_release), or fix the `namespace` attribute.",
                verb = action.verb,
                resource = action.resource,
                name = action.name,
            ),
        ),
        404 => Diagnostic::error(
            "Kubernetes Object Not Found",
            format!("Could not {action}: it does not exist.{server_says}"),
        ),
        409 => Diagnostic::error(
            "Kubernetes Conflict",
            format!(
                "Could not {action} because it changed at the same time.{server_says} Run the command again."
            ),
        ),
        422 | 400 => Diagnostic::error(
            "Kubernetes Rejected The Object",
            format!("The API server refused to {action}.{server_says} Fix the attribute it names."),
        ),
        429 | 500..=599 => Diagnostic::error(
            "Kubernetes API Unavailable",
            format!(
                "The API server answered {code} to {action} {attempts} time(s).{server_says} It may be overloaded or restarting: retry later, or raise the resource's `timeouts` value so the provider keeps retrying longer."
            ),
        ),
        _ => Diagnostic::error(
            "Kubernetes Request Failed",
            format!("The API server answered {code} to {action}.{server_says}"),
        ),
    }
}

/// `2m30s`, `45s`, `800ms`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (m, s) = (secs / 60, secs % 60);
    match (m, s) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(verb: Verb) -> Action {
        Action::new(verb, "secrets", "", "runners", "runner-token")
    }

    #[test]
    fn a_connection_error_says_its_cause_once() {
        let error = KubeError::Connection {
            error: ConnectionError::ConfigMerge {
                reason: "two clusters named a".into(),
            },
        };
        let text = error.to_string();
        assert_eq!(text.matches("two clusters named a").count(), 1, "{text}");
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn forbidden_names_verb_resource_namespace_and_the_rbac_rule() {
        let e = KubeError::Api {
            action: Box::new(action(Verb::Patch)),
            code: 403,
            reason: "Forbidden".into(),
            message: "secrets \"runner-token\" is forbidden: User \"ci\" cannot patch resource \"secrets\"".into(),
            namespace_missing: false,
            attempts: 1,
        };
        let d = e.diagnostic();
        assert_eq!(d.summary, "Kubernetes Permission Denied");
        assert!(
            d.detail
                .contains("may not patch secrets in namespace \"runners\""),
            "{}",
            d.detail
        );
        assert!(
            d.detail.contains("resources: [\"secrets\"]"),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("RoleBinding"), "{}", d.detail);
    }

    #[test]
    fn missing_namespace_says_so_and_how_to_fix_it() {
        let e = KubeError::Api {
            action: Box::new(action(Verb::Patch)),
            code: 404,
            reason: "NotFound".into(),
            message: "namespaces \"runners\" not found".into(),
            namespace_missing: true,
            attempts: 1,
        };
        assert!(!e.is_not_found());
        let d = e.diagnostic();
        assert_eq!(d.summary, "Namespace Not Found");
        assert!(
            d.detail.contains("Namespace \"runners\" does not exist"),
            "{}",
            d.detail
        );
    }

    #[test]
    fn not_owned_names_terraform_import_with_the_id() {
        let d = KubeError::NotOwned {
            kind: "Secret".into(),
            namespace: "runners".into(),
            name: "tok".into(),
            resource_type: "gitlabrunner_token_secret".into(),
        }
        .diagnostic();
        assert_eq!(d.summary, "Object Already Exists");
        assert!(
            d.detail
                .contains("terraform import gitlabrunner_token_secret.<resource name> runners/tok"),
            "{}",
            d.detail
        );
    }

    #[test]
    fn transient_classification() {
        let api = |code| KubeError::Api {
            action: Box::new(action(Verb::Get)),
            code,
            reason: String::new(),
            message: String::new(),
            namespace_missing: false,
            attempts: 1,
        };
        for code in [429, 500, 502, 503, 504] {
            assert!(api(code).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!api(code).is_transient(), "{code}");
        }
        assert!(api(404).is_not_found());
    }

    #[test]
    fn summaries_are_title_case() {
        let errors = [
            KubeError::Cancelled {
                action: Box::new(action(Verb::Delete)),
            },
            KubeError::Timeout {
                action: Box::new(action(Verb::Get)),
                attempts: 3,
                elapsed: Duration::from_secs(61),
                limit: Duration::from_secs(60),
                last: "503".into(),
            },
        ];
        for e in errors {
            let d = e.diagnostic();
            for word in d.summary.split(' ') {
                assert!(
                    word.chars().next().is_some_and(char::is_uppercase),
                    "{}",
                    d.summary
                );
            }
        }
        assert_eq!(human(Duration::from_secs(150)), "2m30s");
    }
}
