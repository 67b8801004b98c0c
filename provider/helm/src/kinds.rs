//! Mapping manifest `apiVersion`/`kind` to the API resource to GET, without discovery requests.

use kube::discovery::ApiResource;

/// How the resource for a kind was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
    /// `false` when the plural and scope were guessed (a kind outside the known table).
    pub known: bool,
}

/// (group, version, kind, plural, namespaced)
const KNOWN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    ("", "v1", "Service", "services", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "Namespace", "namespaces", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    (
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        "servicemonitors",
        true,
    ),
    (
        "monitoring.coreos.com",
        "v1",
        "PodMonitor",
        "podmonitors",
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
];

/// Kinds that are cluster-scoped even when they are not in [`KNOWN`].
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "IngressClass",
    "RuntimeClass",
];

/// The resource for `api_version` (`v1`, `apps/v1`) and `kind`.
pub fn resolve_kind(api_version: &str, kind: &str) -> ResolvedKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    if let Some((_, _, _, plural, namespaced)) = KNOWN
        .iter()
        .find(|(g, v, k, _, _)| *g == group && *v == version && *k == kind)
    {
        return ResolvedKind {
            resource: resource(group, version, kind, plural),
            namespaced: *namespaced,
            known: true,
        };
    }
    ResolvedKind {
        resource: resource(group, version, kind, &guess_plural(kind)),
        namespaced: !CLUSTER_SCOPED.contains(&kind),
        known: false,
    }
}

/// The resource of a kind known by name alone (no API version at hand, e.g. a previous
/// refresh's `manifest_objects`): `None` unless the table lists that kind exactly once.
pub fn known_kind(kind: &str) -> Option<ResolvedKind> {
    let mut matches = KNOWN.iter().filter(|(_, _, k, _, _)| *k == kind);
    let (group, version, kind, plural, namespaced) = matches.next()?;
    matches.next().is_none().then(|| ResolvedKind {
        resource: resource(group, version, kind, plural),
        namespaced: *namespaced,
        known: true,
    })
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

/// The usual English pluralisation the API uses for most kinds.
fn guess_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s')
        || lower.ends_with('x')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
    {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_map_to_their_resources_and_scope() {
        let deployment = resolve_kind("apps/v1", "Deployment");
        assert_eq!(deployment.resource.plural, "deployments");
        assert_eq!(deployment.resource.api_version, "apps/v1");
        assert!(deployment.namespaced && deployment.known);
        let config_map = resolve_kind("v1", "ConfigMap");
        assert_eq!(
            (
                config_map.resource.group.as_str(),
                config_map.resource.plural.as_str()
            ),
            ("", "configmaps")
        );
        assert!(!resolve_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding").namespaced);
    }

    #[test]
    fn unknown_kinds_get_a_guessed_plural_and_scope() {
        let cases = [
            ("Ingress", "ingresses", true),
            ("NetworkPolicyX", "networkpolicyxes", true),
            ("Gateway", "gateways", true),
            ("Policy", "policies", true),
            ("PriorityClass", "priorityclasses", false),
        ];
        for (kind, plural, namespaced) in cases {
            let resolved = resolve_kind("example.io/v1", kind);
            assert_eq!(
                (
                    resolved.resource.plural.as_str(),
                    resolved.namespaced,
                    resolved.known
                ),
                (plural, namespaced, false)
            );
        }
    }

    #[test]
    fn a_kind_known_by_name_alone_resolves_only_when_the_table_has_it_once() {
        let deployment = known_kind("Deployment").expect("Deployment is known");
        assert_eq!(deployment.resource.api_version, "apps/v1");
        assert_eq!(deployment.resource.plural, "deployments");
        assert!(deployment.namespaced);
        assert!(!known_kind("ClusterRole").expect("known").namespaced);
        assert!(known_kind("Widget").is_none());
    }
}
