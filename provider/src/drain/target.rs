//! What is being drained: the release, where its job pods run, and the objects its manifest holds.

use helm_driver::ManifestObject;

/// The release to tear down, as the release resource knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainTarget {
    /// Helm release name.
    pub release: String,
    /// Release namespace (the manager Deployment and, by default, the token Secret live here).
    pub namespace: String,
    /// Where the job pods run (`[runners.kubernetes] namespace`); the release namespace when `None`.
    pub job_namespace: Option<String>,
    /// `runners.secret`: the token Secret; the chart's own `<fullname>` Secret when `None`.
    pub token_secret_name: Option<String>,
    /// `runners.name`: job pods carry it as `manager.runner.gitlab.com/name`. Used to find job
    /// pods when the token Secret cannot be read.
    pub runner_name: Option<String>,
}

impl DrainTarget {
    /// A target with the chart's defaults for everything but the release and its namespace.
    pub fn new(release: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            release: release.into(),
            namespace: namespace.into(),
            job_namespace: None,
            token_secret_name: None,
            runner_name: None,
        }
    }

    /// The namespace the job pods are watched in.
    pub fn job_namespace(&self) -> &str {
        self.job_namespace.as_deref().unwrap_or(&self.namespace)
    }

    /// The token Secret's name.
    pub fn token_secret(&self) -> String {
        self.token_secret_name
            .clone()
            .unwrap_or_else(|| chart_fullname(&self.release))
    }

    /// `namespace/name`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.release)
    }
}

/// The gitlab-runner chart's `fullname`: the release name when it already starts with
/// `gitlab-runner`, else `<release>-gitlab-runner` (63 characters at most, no trailing `-`).
pub fn chart_fullname(release: &str) -> String {
    let full = if release.starts_with("gitlab-runner") {
        release.to_owned()
    } else {
        format!("{release}-gitlab-runner")
    };
    let cut: String = full.chars().take(63).collect();
    cut.trim_end_matches('-').to_owned()
}

/// A Kubernetes object of the release, named for messages and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// The parts of a release manifest the teardown cares about.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseLayout {
    /// The manager Deployment(s) (the chart renders one).
    pub deployments: Vec<String>,
    /// Role, RoleBinding, ClusterRole, ClusterRoleBinding and ServiceAccount objects: they must
    /// outlive the manager pods.
    pub access_objects: Vec<ObjectRef>,
    /// Every object, to confirm they are gone after the uninstall.
    pub objects: Vec<ManifestObject>,
}

const ACCESS_KINDS: &[&str] = &[
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
];

impl ReleaseLayout {
    /// Sorts a parsed manifest into the teardown's view.
    pub fn from_objects(objects: Vec<ManifestObject>) -> Self {
        let deployments = objects
            .iter()
            .filter(|object| object.kind == "Deployment")
            .map(|object| object.name.clone())
            .collect();
        let access_objects = objects
            .iter()
            .filter(|object| ACCESS_KINDS.contains(&object.kind.as_str()))
            .map(object_ref)
            .collect();
        Self {
            deployments,
            access_objects,
            objects,
        }
    }
}

/// The reference of a manifest object.
pub fn object_ref(object: &ManifestObject) -> ObjectRef {
    ObjectRef {
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullname_follows_the_chart_rule() {
        assert_eq!(chart_fullname("ci"), "ci-gitlab-runner");
        assert_eq!(chart_fullname("gitlab-runner-prod"), "gitlab-runner-prod");
        // 64 characters are cut to 63; a cut ending in `-` loses it.
        assert_eq!(
            chart_fullname(&"b".repeat(50)),
            "b".repeat(50) + "-gitlab-runne"
        );
        assert_eq!(chart_fullname(&"d".repeat(55)), "d".repeat(55) + "-gitlab");
    }

    #[test]
    fn defaults_come_from_the_release() {
        let target = DrainTarget::new("ci", "runners");
        assert_eq!(target.job_namespace(), "runners");
        assert_eq!(target.token_secret(), "ci-gitlab-runner");
        let target = DrainTarget {
            job_namespace: Some("jobs".into()),
            token_secret_name: Some("token".into()),
            ..target
        };
        assert_eq!(target.job_namespace(), "jobs");
        assert_eq!(target.token_secret(), "token");
        assert_eq!(target.id(), "runners/ci");
    }

    #[test]
    fn layout_finds_the_manager_and_its_access_objects() {
        let manifest = "\
apiVersion: v1
kind: ServiceAccount
metadata: {name: ci-gitlab-runner}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ci-gitlab-runner}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-gitlab-runner}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ci-gitlab-runner}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ci-gitlab-runner, namespace: runners}
";
        let objects = helm_driver::parse_manifest(manifest, "runners").unwrap();
        let layout = ReleaseLayout::from_objects(objects);
        assert_eq!(layout.deployments, vec!["ci-gitlab-runner".to_owned()]);
        let access: Vec<String> = layout
            .access_objects
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            access,
            vec![
                "ServiceAccount runners/ci-gitlab-runner",
                "Role runners/ci-gitlab-runner",
                "RoleBinding runners/ci-gitlab-runner",
            ]
        );
        assert_eq!(layout.objects.len(), 5);
    }
}
