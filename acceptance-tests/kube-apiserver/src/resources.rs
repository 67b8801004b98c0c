//! The catalogue of resource types the server serves, and the discovery documents built from it.

use serde_json::{Value, json};

/// One served resource type (a group/version/resource with its kind).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, lower-case resource name as it appears in URLs.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Whether the resource has a `status` subresource (status ignored on main-resource writes).
    pub has_status: bool,
    /// Whether `metadata.generation` is tracked (bumped on spec change).
    pub tracks_generation: bool,
    /// Names must be DNS-1123 labels (otherwise DNS-1123 subdomains).
    pub label_names: bool,
    pub categories: &'static [&'static str],
}

impl ResourceType {
    /// `apiVersion` string for objects of this type.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name used in error messages: `configmaps` or `deployments.apps`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// A stable identifier, e.g. `apps/deployments` or `/configmaps`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }
}

macro_rules! rt {
    ($group:expr, $plural:expr, $singular:expr, $kind:expr, $namespaced:expr, $short:expr, $status:expr, $generation:expr, $label:expr, $cats:expr) => {
        ResourceType {
            group: $group,
            version: "v1",
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $namespaced,
            short_names: $short,
            has_status: $status,
            tracks_generation: $generation,
            label_names: $label,
            categories: $cats,
        }
    };
}

/// Every resource type served.
pub static RESOURCES: &[ResourceType] = &[
    rt!(
        "",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        &["ns"],
        true,
        false,
        true,
        &[]
    ),
    rt!(
        "",
        "secrets",
        "secret",
        "Secret",
        true,
        &[],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "",
        "services",
        "service",
        "Service",
        true,
        &["svc"],
        true,
        false,
        true,
        &["all"]
    ),
    rt!(
        "",
        "pods",
        "pod",
        "Pod",
        true,
        &["po"],
        true,
        true,
        false,
        &["all"]
    ),
    rt!(
        "",
        "events",
        "event",
        "Event",
        true,
        &["ev"],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        true,
        &["quota"],
        true,
        false,
        false,
        &[]
    ),
    rt!(
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
        true,
        true,
        false,
        &["all"]
    ),
    rt!(
        "apps",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
        true,
        true,
        false,
        &["all"]
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "roles",
        "role",
        "Role",
        true,
        &[],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        &[],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        &[],
        false,
        false,
        false,
        &[]
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        &[],
        false,
        false,
        false,
        &[]
    ),
];

/// Looks a resource type up by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource type up by its kind.
pub fn by_kind(kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == kind)
}

/// The groups other than core, in a stable order.
fn named_groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn aggregated_resource(r: &ResourceType) -> Value {
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if r.has_status {
        v["subresources"] = json!([{
            "subresource": "status",
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "verbs": ["get", "patch", "update"],
        }]);
    }
    v
}

fn aggregated_group(group: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(aggregated_resource)
        .collect();
    json!({
        "metadata": {"name": group},
        "versions": [{"version": "v1", "freshness": "Current", "resources": resources}],
    })
}

/// The content type of aggregated discovery responses (must match exactly).
pub const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Aggregated discovery for `/api` (core group) or `/apis` (named groups).
pub fn aggregated_discovery(core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group("")]
    } else {
        named_groups().into_iter().map(aggregated_group).collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// Legacy `/api` document.
pub fn legacy_api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// Legacy `/apis` document.
pub fn legacy_api_group_list() -> Value {
    let groups: Vec<Value> = named_groups()
        .into_iter()
        .map(|g| {
            let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/apis/<group>` document, if the group exists.
pub fn legacy_api_group(group: &str) -> Option<Value> {
    if !named_groups().contains(&group) {
        return None;
    }
    let gv = json!({"groupVersion": format!("{group}/v1"), "version": "v1"});
    Some(
        json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv.clone()], "preferredVersion": gv}),
    )
}

/// Legacy `APIResourceList` for `/api/v1` or `/apis/<group>/v1`, if the group/version exists.
pub fn legacy_resource_list(group: &str, version: &str) -> Option<Value> {
    if version != "v1" || (!group.is_empty() && !named_groups().contains(&group)) {
        return None;
    }
    let mut resources = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        let mut v = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        resources.push(v);
        if r.has_status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
