//! The release as it is in the cluster, read natively (no helm process). A refresh
//! ([`inspect`]) reads through the listings the refresh shares ([`crate::kube::reads_for`]: one
//! release-Secret LIST per namespace, one LIST per kind), so N releases in a namespace cost
//! O(kinds) requests. Every read goes through a [`Budget`], the provider's one retry policy:
//! transient failures are retried within the time limit, permanent ones (401, 403, 404, 422, …)
//! are reported after the first answer — never read as "the release is gone".

use helm_driver::drift::repair::{RepairError, remove_additions as remove_foreign_additions};
use helm_driver::drift::{DriftPolicy, ObjectRef, ReadCache, inspect_release_shared};
use helm_driver::release::{newest_release, release_selector};
use helm_driver::{
    Drift, DriftChange, DriftError, ReleaseHistory, ReleaseInspection, ReleaseReadError,
    parse_manifest,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use tfplugin::Diagnostic;

use crate::kube::{Action, Budget, FIELD_MANAGER, KubeError, Verb, classify};

/// The one diagnostic for a release that could not be read: the summary tests and users know,
/// and the detail of the [`KubeError`]'s own diagnostic (what failed, what to do).
fn read_error(namespace: &str, name: &str, error: &KubeError) -> Diagnostic {
    let cause = error.diagnostic();
    Diagnostic::error(
        "Cannot Read Helm Release",
        format!(
            "Reading release {namespace}/{name} from the cluster failed ({}): {} The release is kept in state.",
            cause.summary, cause.detail
        ),
    )
}

/// `list secrets "sh.helm.release.v1.<name>.*"`.
fn revisions_action(namespace: &str, name: &str) -> Action {
    Action::new(
        Verb::List,
        "secrets",
        "",
        namespace,
        format!("sh.helm.release.v1.{name}.*"),
    )
}

/// A release-read failure as a [`KubeError`] (the client's error classified; a record that
/// cannot be decoded is permanent).
fn release_read_error(
    namespace: &str,
    name: &str,
    error: ReleaseReadError,
    attempts: u32,
) -> KubeError {
    let action = revisions_action(namespace, name);
    match error {
        ReleaseReadError::Api { cause, .. } => classify(&action, *cause, attempts),
        other => KubeError::Other {
            action: Box::new(action),
            message: other.to_string(),
        },
    }
}

/// An inspection failure as a [`KubeError`].
fn drift_error(namespace: &str, name: &str, error: DriftError, attempts: u32) -> KubeError {
    match error {
        DriftError::Api {
            api,
            namespace: object_namespace,
            name: object,
            cause,
            ..
        } => {
            let action = Action::new(
                Verb::Get,
                api.plural,
                api.group,
                object_namespace.unwrap_or_default(),
                object,
            );
            classify(&action, *cause, attempts)
        }
        DriftError::Release(error) => release_read_error(namespace, name, error, attempts),
        other => KubeError::Other {
            action: Box::new(revisions_action(namespace, name)),
            message: other.to_string(),
        },
    }
}

/// The release's revisions (newest decoded), `None` when it does not exist. Read directly (not
/// through a refresh's shared listings): the caller is about to write. Transient API errors are
/// retried until `budget` runs out or Terraform cancels.
pub async fn history_within(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    budget: &Budget,
) -> Result<Option<ReleaseHistory>, Diagnostic> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&release_selector(name));
    let list = budget
        .retry(&revisions_action(namespace, name), || api.list(&params))
        .await
        .map_err(|error| read_error(namespace, name, &error))?;
    newest_release(&list.items).map_err(|error| {
        read_error(
            namespace,
            name,
            &release_read_error(namespace, name, error, 1),
        )
    })
}

/// What counts as drift for a release: additions by anyone but helm, this provider
/// ([`FIELD_MANAGER`]), Kubernetes' own components and the managers the user lists in
/// `drift_ignore_field_managers`.
pub fn drift_policy(ignored: Option<&[String]>) -> DriftPolicy {
    DriftPolicy {
        own_managers: vec![FIELD_MANAGER.to_owned()],
        ignored_managers: ignored.map(<[String]>::to_vec).unwrap_or_default(),
    }
}

/// The release plus its manifest drift, `None` when it does not exist: the refresh's read,
/// through the listings `reads` shares with the other releases of this refresh. Transient API
/// errors are retried until `budget` (the `read` time limit) runs out or Terraform cancels.
pub async fn inspect(
    reads: &ReadCache,
    client: &kube::Client,
    namespace: &str,
    name: &str,
    policy: &DriftPolicy,
    budget: &Budget,
) -> Result<Option<ReleaseInspection>, Diagnostic> {
    budget
        .retry_classified(
            &revisions_action(namespace, name),
            || inspect_release_shared(client, reads, namespace, name, policy),
            |error, attempts| drift_error(namespace, name, error, attempts),
        )
        .await
        .map_err(|error| read_error(namespace, name, &error))
}

/// `Kind namespace/name: field changed|missing|added by <manager>` (a change also says by whom
/// when a foreign field manager owns the field) or `…: object deleted`, deduplicated, in order.
/// Paths and managers only: never a value (Secrets' values stay out of state and plan).
pub fn drift_lines(drifts: &[Drift]) -> Vec<String> {
    let mut lines: Vec<String> = drifts
        .iter()
        .map(|drift| {
            let object = match &drift.namespace {
                Some(namespace) => format!("{} {namespace}/{}", drift.kind, drift.name),
                None => format!("{} {}", drift.kind, drift.name),
            };
            let by = if drift.managers.is_empty() {
                String::new()
            } else {
                format!(" by {}", drift.managers.join(", "))
            };
            match drift.change {
                DriftChange::ObjectDeleted => format!("{object}: object deleted"),
                DriftChange::Missing => format!("{object}: {} missing", drift.field_path),
                DriftChange::Changed => format!("{object}: {} changed{by}", drift.field_path),
                DriftChange::Added => format!("{object}: {} added{by}", drift.field_path),
            }
        })
        .collect();
    lines.dedup();
    lines
}

/// After an upgrade that repairs drift: removes what other field managers added to the release's
/// objects, which `helm upgrade` keeps (see `helm_driver::drift::repair`). Nothing happens when
/// the upgrade was not a repair. Transient API errors repeat the whole repair (it reads each
/// object again; each patch is guarded by the `resourceVersion` it read) within `budget`; a
/// 409/422 (the object changed in between), 401, 403 or 404 is reported after one answer.
pub async fn remove_additions(
    client: &kube::Client,
    repairing: bool,
    namespace: &str,
    name: &str,
    manifest: &str,
    ignored: Option<&[String]>,
    budget: &Budget,
) -> Result<(), Diagnostic> {
    if !repairing {
        return Ok(());
    }
    let policy = drift_policy(ignored);
    let action = repair_action(namespace, name);
    let repaired = budget
        .retry_classified(
            &action,
            || remove_foreign_additions(client, namespace, manifest, &policy, FIELD_MANAGER),
            |error, attempts| repair_error(namespace, name, error, attempts),
        )
        .await;
    match repaired {
        Ok(removed) => {
            for object in removed {
                tracing::info!(kind = object.kind, name = object.name, fields = ?object.field_paths, "removed fields added outside Terraform");
            }
            Ok(())
        }
        Err(error) => Err(Diagnostic::error(
            "Cannot Remove Fields Added Outside Terraform",
            format!(
                "The release was upgraded, but removing what other field managers added to its objects failed: {error}. \
                 The next plan shows what is left, and apply tries again."
            ),
        )),
    }
}

/// The repair as a whole, for messages about failures that name no object.
fn repair_action(namespace: &str, name: &str) -> Action {
    Action::new(Verb::Patch, "objects of release", "", namespace, name)
}

/// A repair failure as a [`KubeError`]: reads and patches keep the client's error, so transient
/// ones are retried; a manifest that cannot be parsed or a patch that cannot be built is
/// permanent.
fn repair_error(namespace: &str, name: &str, error: RepairError, attempts: u32) -> KubeError {
    match error {
        RepairError::Read(error) => drift_error(namespace, name, error, attempts),
        RepairError::Rejected {
            plural,
            group,
            namespace: object_namespace,
            name: object,
            cause,
            ..
        } => {
            let action = Action::new(
                Verb::Patch,
                plural,
                group,
                object_namespace.unwrap_or_default(),
                object,
            );
            classify(&action, *cause, attempts)
        }
        other => KubeError::Other {
            action: Box::new(repair_action(namespace, name)),
            message: other.to_string(),
        },
    }
}

/// `Kind/namespace/name` of every object in a manifest (empty when it cannot be parsed).
pub fn manifest_objects(manifest: &str, namespace: &str) -> Vec<String> {
    parse_manifest(manifest, namespace)
        .map(|objects| object_ids(objects.iter().map(ObjectRef::of)))
        .unwrap_or_default()
}

/// `Kind/namespace/name` (`Kind/name` when cluster-scoped) of each object, in order: from a
/// parsed manifest, or from the objects a drift check already parsed
/// ([`helm_driver::DriftReport::objects`]: a refresh parses the manifest once).
pub fn object_ids(objects: impl IntoIterator<Item = ObjectRef>) -> Vec<String> {
    objects
        .into_iter()
        .map(|o| match &o.namespace {
            Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
            None => format!("{}/{}", o.kind, o.name),
        })
        .collect()
}

/// The kinds of [`object_ids`]' ids (`Kind/namespace/name`) in the release's namespace, with
/// that namespace: what to list ahead of a refresh (cluster-scoped `Kind/name` ids and objects
/// in other namespaces are left to the read).
pub fn kinds_of<'a>(
    ids: &'a [String],
    release_namespace: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    ids.iter().filter_map(move |id| {
        let mut parts = id.splitn(3, '/');
        let (kind, namespace, _name) = (parts.next()?, parts.next()?, parts.next()?);
        (namespace == release_namespace).then_some((kind, release_namespace))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use helm_driver::{DriftChange, DriftValues};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams};
    use kube_test_server::{Fault, TestCluster};
    use tfplugin::CancellationToken;

    use crate::kube::test_cluster::{
        cluster_with_namespace, served, served_paths, served_statuses, status_fault,
    };

    use super::*;

    const NAMESPACE: &str = "ci";
    const MANIFEST: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\n  namespace: ci\ndata:\n  a: \"1\"\n";

    async fn cluster() -> (TestCluster, kube::Client) {
        cluster_with_namespace(NAMESPACE).await
    }

    /// `manager` server-side applies `data.<key>` to the ConfigMap.
    async fn apply_data(client: &kube::Client, manager: &str, key: &str) {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
        let object = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "runner", "namespace": NAMESPACE},
            "data": {key: "1"},
        });
        api.patch(
            "runner",
            &PatchParams::apply(manager),
            &Patch::Apply(&object),
        )
        .await
        .expect("the apply succeeds");
    }

    fn patch_fault(code: u16) -> Fault {
        status_fault(
            "PATCH",
            format!("/api/v1/namespaces/{NAMESPACE}/configmaps/runner"),
            code,
        )
    }

    /// The drift repair runs within the apply's Budget: a 503 repeats it (GET + guarded PATCH)
    /// and it succeeds; a 403 is asked once and reported.
    #[tokio::test]
    async fn the_repair_is_retried_on_a_503_and_asks_a_403_once() {
        let (cluster, client) = cluster().await;
        let admin = cluster.admin();
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        apply_data(&client, "helm", "a").await;
        apply_data(&client, "kubectl-patch", "b").await;

        admin.clear_requests().unwrap();
        admin.inject_fault(&patch_fault(503)).unwrap();
        remove_additions(&client, true, NAMESPACE, "runner", MANIFEST, None, &budget)
            .await
            .expect("the repair succeeds after the 503");
        let served = served(&admin);
        assert_eq!(
            served,
            [
                ("GET".to_owned(), 200),
                ("PATCH".to_owned(), 503),
                ("GET".to_owned(), 200),
                ("PATCH".to_owned(), 200),
            ]
        );
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
        let data = api.get("runner").await.unwrap().data.unwrap_or_default();
        assert!(!data.contains_key("b"), "{data:?}");

        apply_data(&client, "kubectl-patch", "b").await;
        admin.clear_requests().unwrap();
        admin.inject_fault(&patch_fault(403)).unwrap();
        let error = remove_additions(&client, true, NAMESPACE, "runner", MANIFEST, None, &budget)
            .await
            .expect_err("a 403 is reported");
        assert!(error.detail.contains("403"), "{}", error.detail);
        let statuses = served_statuses(&admin);
        assert_eq!(statuses, [200, 403], "a 403 is asked once");

        // A 409 (the resourceVersion test failed: someone changed the object) is not retried.
        admin.clear_requests().unwrap();
        admin.inject_fault(&patch_fault(409)).unwrap();
        let error = remove_additions(&client, true, NAMESPACE, "runner", MANIFEST, None, &budget)
            .await
            .expect_err("a 409 is reported");
        assert!(error.detail.contains("409"), "{}", error.detail);
        let statuses = served_statuses(&admin);
        assert_eq!(statuses, [200, 409], "a 409 is asked once");
    }

    /// The kinds of the last refresh are listed ahead of the read: the read then finds the
    /// listing made and asks nothing more; kinds not resolvable by name (`Widget`) and
    /// cluster-scoped ids (`ClusterRole/name`) are left to the read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_prefetched_listing_serves_the_read_that_follows() {
        let (cluster, client) = cluster().await;
        let admin = cluster.admin();
        apply_data(&client, "helm", "a").await;
        admin.clear_requests().unwrap();
        let reads = std::sync::Arc::new(ReadCache::new());
        let ids = [
            "ConfigMap/ci/runner".to_owned(),
            "Widget/ci/w".to_owned(),
            "ClusterRole/r".to_owned(),
            "ConfigMap/ci/other".to_owned(),
        ];
        reads.prefetch(&client, kinds_of(&ids, NAMESPACE));
        for _ in 0..250 {
            if !served(&admin).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let paths = served_paths(&admin);
        assert_eq!(paths, ["/api/v1/namespaces/ci/configmaps"]);

        let objects = parse_manifest(MANIFEST, NAMESPACE).unwrap();
        let requests = std::sync::atomic::AtomicUsize::new(0);
        let live = reads
            .live_object(&client, &objects[0], &requests)
            .await
            .unwrap()
            .expect("the ConfigMap is listed");
        assert_eq!(live["data"]["a"], "1");
        assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(served(&admin).len(), 1, "one LIST in all");
    }

    #[test]
    fn the_kinds_to_list_ahead_come_from_namespaced_ids() {
        let ids = [
            "Deployment/ci/runner".to_owned(),
            "ClusterRole/runner".to_owned(),
            "Secret/other/token".to_owned(),
        ];
        let kinds: Vec<(&str, &str)> = kinds_of(&ids, "ci").collect();
        assert_eq!(kinds, [("Deployment", "ci")]);
    }

    fn drift(kind: &str, path: &str, change: DriftChange, managers: &[&str]) -> Drift {
        Drift {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ci".into()),
            name: "gitlab-runner".into(),
            field_path: path.into(),
            steps: Vec::new(),
            change,
            values: Some(DriftValues {
                expected: serde_json::Value::Null,
                actual: Some(serde_json::json!("secret-looking-value")),
            }),
            managers: managers.iter().map(|m| (*m).to_string()).collect(),
        }
    }

    #[test]
    fn lines_say_what_was_added_and_by_whom_but_never_a_value() {
        let lines = drift_lines(&[
            drift(
                "Deployment",
                "spec.template.spec.containers[name=sidecar]",
                DriftChange::Added,
                &["kubectl-patch"],
            ),
            drift(
                "Deployment",
                "spec.replicas",
                DriftChange::Changed,
                &["kubectl"],
            ),
            drift("ConfigMap", "data.runner-name", DriftChange::Changed, &[]),
            drift("Role", "", DriftChange::ObjectDeleted, &[]),
        ]);
        assert_eq!(
            lines,
            [
                "Deployment ci/gitlab-runner: spec.template.spec.containers[name=sidecar] added by kubectl-patch",
                "Deployment ci/gitlab-runner: spec.replicas changed by kubectl",
                "ConfigMap ci/gitlab-runner: data.runner-name changed",
                "Role ci/gitlab-runner: object deleted",
            ]
        );
        assert!(!lines.concat().contains("secret-looking-value"));
    }

    #[test]
    fn the_policy_counts_this_provider_as_the_release_s_own_and_adds_the_ignored() {
        let ignored = ["istio-operator".to_string()];
        let policy = drift_policy(Some(&ignored));
        assert!(!policy.counts(FIELD_MANAGER, None));
        assert!(!policy.counts("helm", None));
        assert!(!policy.counts("istio-operator", None));
        assert!(policy.counts("kubectl-set", None));
        assert!(!policy.counts("kubectl-patch", Some("status")));
    }
}
