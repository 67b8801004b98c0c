//! ServiceAccount tokens and RBAC for them, as a real cluster does it: `kubectl create token SA`
//! (the `serviceaccounts/<name>/token` subresource, TokenRequest) issues a bearer token for the
//! ServiceAccount, and requests with it are authorized by the RBAC objects in the store — Roles
//! and ClusterRoles bound to the ServiceAccount by RoleBindings (in the request's namespace) and
//! ClusterRoleBindings. Rules match `apiGroups`, `resources` (`plural` or `plural/subresource`,
//! or `*`), `verbs` and `resourceNames`. Aggregated ClusterRoles and non-resource URLs are not
//! modelled (every authenticated caller may read discovery, as `system:discovery` grants).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::auth::{self, TokenGrant};
use crate::resources::{RESOURCES, ResourceType};
use crate::status::ApiError;
use crate::store::{State, Store};

/// Who sent a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A token from the server's options (full access or [`TokenGrant`] rules).
    Grant(TokenGrant),
    /// A token issued by a TokenRequest for this ServiceAccount.
    ServiceAccount { namespace: String, name: String },
}

/// Issued ServiceAccount tokens: token → (the issuing store's address, namespace, name). Tokens
/// are random, so servers in one process never accept each other's (the address is checked too).
type IssuedTokens = Mutex<HashMap<String, (usize, String, String)>>;

fn issued() -> &'static IssuedTokens {
    static ISSUED: OnceLock<IssuedTokens> = OnceLock::new();
    ISSUED.get_or_init(|| Mutex::new(HashMap::new()))
}

fn store_id(store: &std::sync::Arc<Store>) -> usize {
    std::sync::Arc::as_ptr(store) as usize
}

fn kind(kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == kind)
}

/// Authenticates an `Authorization` header: a configured token, or a ServiceAccount token this
/// server issued (whose ServiceAccount still exists).
pub fn authenticate(
    store: &std::sync::Arc<Store>,
    grants: &[TokenGrant],
    header: Option<&str>,
) -> Result<Caller, ApiError> {
    if let Some(grant) = auth::authenticate(grants, header) {
        return Ok(Caller::Grant(grant.clone()));
    }
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let found = issued()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(token)
        .cloned();
    let Some((_, namespace, name)) = found.filter(|(id, _, _)| *id == store_id(store)) else {
        return Err(ApiError::unauthorized());
    };
    let exists = store.with(|st| {
        kind("ServiceAccount").is_some_and(|rt| st.get(rt, &namespace, &name).is_some())
    });
    if !exists {
        return Err(ApiError::unauthorized());
    }
    Ok(Caller::ServiceAccount { namespace, name })
}

/// One authorization question.
pub struct Request<'a> {
    pub verb: &'a str,
    pub resource: &'static ResourceType,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl Caller {
    /// Allows the request or answers 403 Forbidden with the real message.
    pub fn authorize(
        &self,
        store: &std::sync::Arc<Store>,
        req: &Request<'_>,
    ) -> Result<(), ApiError> {
        let (user, allowed) = match self {
            Caller::Grant(grant) => (
                grant.user.clone(),
                grant.allows(req.verb, req.resource.plural, req.namespace),
            ),
            Caller::ServiceAccount { namespace, name } => (
                format!("system:serviceaccount:{namespace}:{name}"),
                store.with(|st| rbac_allows(st, namespace, name, req)),
            ),
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                &user,
                req.verb,
                req.resource,
                req.namespace,
                req.name,
            ))
        }
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn binds(binding: &Value, namespace: &str, name: &str) -> bool {
    binding["subjects"].as_array().is_some_and(|subjects| {
        subjects.iter().any(|s| {
            s["kind"] == "ServiceAccount" && s["name"] == name && s["namespace"] == namespace
        })
    })
}

fn rule_allows(rule: &Value, req: &Request<'_>) -> bool {
    let any_or = |list: Vec<&str>, value: &str| list.iter().any(|x| *x == "*" || *x == value);
    let resource = match req.subresource {
        Some(sub) => format!("{}/{sub}", req.resource.plural),
        None => req.resource.plural.to_owned(),
    };
    let names = strings(&rule["resourceNames"]);
    any_or(strings(&rule["apiGroups"]), req.resource.group)
        && any_or(strings(&rule["resources"]), &resource)
        && any_or(strings(&rule["verbs"]), req.verb)
        && (names.is_empty() || req.name.is_some_and(|n| names.contains(&n)))
}

/// The rules of the role a binding refers to (`role_namespace` for a Role).
fn role_rules<'s>(st: &'s State, binding: &Value, role_namespace: Option<&str>) -> Vec<&'s Value> {
    let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
    let role = match (binding["roleRef"]["kind"].as_str(), role_namespace) {
        (Some("Role"), Some(ns)) => kind("Role").and_then(|rt| st.get(rt, ns, role_name)),
        (Some("ClusterRole"), _) => kind("ClusterRole").and_then(|rt| st.get(rt, "", role_name)),
        _ => None,
    };
    role.and_then(|r| r["rules"].as_array())
        .map(|rules| rules.iter().collect())
        .unwrap_or_default()
}

fn rbac_allows(st: &State, sa_namespace: &str, sa_name: &str, req: &Request<'_>) -> bool {
    let mut rules: Vec<&Value> = Vec::new();
    if let (Some(ns), Some(rt)) = (req.namespace, kind("RoleBinding")) {
        for binding in st.list(rt, Some(ns)) {
            if binds(binding, sa_namespace, sa_name) {
                rules.extend(role_rules(st, binding, Some(ns)));
            }
        }
    }
    if let Some(rt) = kind("ClusterRoleBinding") {
        for binding in st.list(rt, None) {
            if binds(binding, sa_namespace, sa_name) {
                rules.extend(role_rules(st, binding, None));
            }
        }
    }
    rules.into_iter().any(|rule| rule_allows(rule, req))
}

/// `POST .../serviceaccounts/<name>/token`: issues a token for the ServiceAccount. The request
/// body (JSON or protobuf TokenRequest) is not needed: the token lasts as long as the server.
pub fn token_request(
    store: &std::sync::Arc<Store>,
    namespace: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let rt = kind("ServiceAccount").ok_or_else(|| ApiError::internal("no ServiceAccount kind"))?;
    if store.with(|st| st.get(rt, namespace, name).is_none()) {
        return Err(ApiError::not_found(rt, name));
    }
    let token: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    issued()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(
            token.clone(),
            (store_id(store), namespace.to_owned(), name.to_owned()),
        );
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": {"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": 3600, "boundObjectRef": null},
        "status": {
            "token": token,
            "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(verb: &'static str, plural: &str, name: Option<&'static str>) -> Request<'static> {
        Request {
            verb,
            resource: RESOURCES
                .iter()
                .find(|r| r.plural == plural)
                .expect("served"),
            subresource: None,
            namespace: Some("ns"),
            name,
        }
    }

    #[test]
    fn rules_match_groups_resources_verbs_and_names() {
        let rule = json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "patch"]});
        assert!(rule_allows(&rule, &request("get", "secrets", Some("a"))));
        assert!(!rule_allows(&rule, &request("list", "secrets", None)));
        assert!(!rule_allows(
            &rule,
            &request("get", "configmaps", Some("a"))
        ));
        assert!(!rule_allows(
            &rule,
            &request("get", "deployments", Some("a"))
        ));
        let named =
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "resourceNames": ["a"]});
        assert!(rule_allows(
            &named,
            &request("delete", "deployments", Some("a"))
        ));
        assert!(!rule_allows(
            &named,
            &request("delete", "deployments", Some("b"))
        ));
        assert!(!rule_allows(&named, &request("list", "deployments", None)));
    }

    #[test]
    fn bindings_name_the_service_account_with_its_namespace() {
        let binding =
            json!({"subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "a"}]});
        assert!(binds(&binding, "a", "ci"));
        assert!(!binds(&binding, "b", "ci"));
        assert!(!binds(&binding, "a", "other"));
    }
}
