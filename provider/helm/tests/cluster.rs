#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

//! Against the Kubernetes API test server (`kube-test-server`) with real helm 4 and helm 3:
//! install with [`HelmRunner`], read the release natively, detect drift made out of band, count
//! requests, and check failures are errors (never "no release").

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use helm_driver::drift::{DriftPolicy, ObjectRef};
use helm_driver::{
    ChartSource, DriftChange, HelmBinary, HelmFailure, HelmRunner, ReadCache, Recovery,
    ReleaseReadError, ReleaseStatus, RunOptions, Uninstall, UpgradeInstall, check_manifest_drift,
    inspect_release, inspect_release_shared, mark_pending_release_failed, parse_manifest,
    read_latest_release, read_release_history,
};
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, DeleteParams};
use kube_connection::{KubernetesConnection, ResolvedConnection};
use kube_test_server::{Fault, FaultAction, Options, TestCluster};
use serde_json::json;

const NAMESPACE: &str = "ci";
const FULLNAME: &str = "runner-gitlab-runner";

fn tool(variable: &str, file: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/bin")
                .join(file)
        })
}

fn helm4() -> HelmRunner {
    HelmRunner::new(HelmBinary::detect(Some(&tool("HELM4_BIN", "helm"))).unwrap())
}

fn helm3() -> HelmRunner {
    HelmRunner::new(HelmBinary::detect(Some(&tool("HELM3_BIN", "helm3"))).unwrap())
}

fn fixture_chart() -> ChartSource {
    ChartSource::Local {
        path: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../acceptance-tests/charts/gitlab-runner"),
    }
}

struct Setup {
    cluster: TestCluster,
    connection: ResolvedConnection,
    client: kube::Client,
}

async fn start() -> Setup {
    let cluster = TestCluster::start(Options {
        namespaces: vec![NAMESPACE.to_string()],
        ..Default::default()
    })
    .unwrap();
    let connection = KubernetesConnection {
        config_path: Some(cluster.kubeconfig_path().to_string_lossy().into_owned()),
        ..Default::default()
    }
    .resolve(&|_| None)
    .unwrap();
    let client = connection.client().await.unwrap();
    Setup {
        cluster,
        connection,
        client,
    }
}

const VALUES: &str = "gitlabUrl: https://gitlab.example.com\nconcurrent: 4\nreplicas: 1\nrunnerToken: glrt-test-token\nrbac:\n  create: true\n";

fn request() -> UpgradeInstall {
    UpgradeInstall::new("runner", NAMESPACE, fixture_chart())
}

fn options() -> RunOptions {
    let mut options = RunOptions::new(Duration::from_secs(120));
    options.secrets.push("glrt-test-token".into());
    options
}

async fn install(setup: &Setup, runner: &HelmRunner, values: &str) {
    runner
        .upgrade_install(&setup.connection, &request(), values, &options())
        .await
        .unwrap();
}

#[tokio::test]
async fn installed_release_reads_back_natively_without_drift_for_both_helms() {
    for runner in [helm4(), helm3()] {
        let setup = start().await;
        install(&setup, &runner, VALUES).await;

        let history = read_release_history(&setup.client, NAMESPACE, "runner")
            .await
            .unwrap()
            .unwrap();
        let record = &history.latest;
        assert_eq!(
            (
                record.name.as_str(),
                record.namespace.as_str(),
                record.version
            ),
            ("runner", NAMESPACE, 1)
        );
        assert_eq!(record.status, ReleaseStatus::Deployed);
        assert_eq!(record.chart_name, "gitlab-runner");
        assert_eq!(
            record.config,
            json!({"gitlabUrl": "https://gitlab.example.com", "concurrent": 4, "replicas": 1, "runnerToken": "glrt-test-token", "rbac": {"create": true}})
        );
        assert!(record.manifest.contains("kind: Deployment"));
        assert_eq!(
            record.apply_method.as_deref(),
            (runner.binary().version.major == 4).then_some("ssa"),
            "helm 4 records server-side apply, helm 3 nothing"
        );

        setup.cluster.admin().clear_requests().unwrap();
        let inspection = inspect_release(&setup.client, NAMESPACE, "runner")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            inspection.drift.drifts,
            vec![],
            "helm {}",
            runner.binary().version
        );
        assert!(
            inspection.drift.objects_checked >= 5,
            "{:?}",
            inspection.drift
        );
        assert_eq!(
            inspection.api_requests,
            1 + inspection.drift.objects_checked
        );
        assert!(inspection.drift.guessed_kinds.is_empty());
        let served = setup.cluster.admin().requests().unwrap();
        assert_eq!(served.len(), inspection.api_requests, "{served:#?}");
        assert!(served.iter().all(|r| r.method == "GET"));

        // Shared reads (a refresh of many releases): one release-Secret LIST for the namespace
        // plus one LIST per namespaced kind of the manifest (GET for cluster-scoped objects);
        // a second read through the same cache makes no request at all.
        let objects = parse_manifest(&record.manifest, NAMESPACE).unwrap();
        let kinds: BTreeSet<(String, String)> = objects
            .iter()
            .filter(|o| o.namespace.is_some())
            .map(|o| (o.api_version.clone(), o.kind.clone()))
            .collect();
        let cluster_scoped = objects.iter().filter(|o| o.namespace.is_none()).count();
        let reads = ReadCache::new();
        setup.cluster.admin().clear_requests().unwrap();
        let shared = inspect_release_shared(
            &setup.client,
            &reads,
            NAMESPACE,
            "runner",
            &DriftPolicy::default(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            shared.drift.drifts,
            vec![],
            "helm {}",
            runner.binary().version
        );
        assert_eq!(shared.history, inspection.history);
        assert_eq!(shared.api_requests, 1 + kinds.len() + cluster_scoped);
        let served = setup.cluster.admin().requests().unwrap();
        assert_eq!(served.len(), shared.api_requests, "{served:#?}");
        assert!(served.iter().all(|r| r.method == "GET" && r.status == 200));
        setup.cluster.admin().clear_requests().unwrap();
        let again = inspect_release_shared(
            &setup.client,
            &reads,
            NAMESPACE,
            "runner",
            &DriftPolicy::default(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!((again.api_requests, again.drift.drifts), (0, vec![]));
        assert_eq!(setup.cluster.admin().requests().unwrap(), vec![]);
        // The check hands back the objects it parsed (a refresh parses the manifest once), and
        // the readers of a listing share its objects instead of copying them per release.
        assert_eq!(
            again.drift.objects,
            objects.iter().map(ObjectRef::of).collect::<Vec<_>>()
        );
        let deployment = objects.iter().find(|o| o.kind == "Deployment").unwrap();
        let counted = AtomicUsize::new(0);
        let first = reads.live_object(&setup.client, deployment, &counted);
        let first = first.await.unwrap().expect("the Deployment is listed");
        let second = reads.live_object(&setup.client, deployment, &counted);
        let second = second.await.unwrap().expect("the Deployment is listed");
        assert!(Arc::ptr_eq(&first, &second), "one shared copy");
        assert_eq!(
            counted.load(Ordering::Relaxed),
            0,
            "served from the listing"
        );
    }
}

#[tokio::test]
async fn edits_and_deletions_made_out_of_band_are_drift_but_server_changes_are_not() {
    let setup = start().await;
    install(&setup, &helm4(), VALUES).await;
    let admin = setup.cluster.admin();

    // Labels and annotations someone added by hand are drift, attributed to their field manager
    // (issue 12); once removed, they are owned by no one and the object is clean again.
    let deployment_path = format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{FULLNAME}");
    admin
        .edit(
            &deployment_path,
            &json!({"metadata": {"labels": {"team": "platform"}, "annotations": {"note": "x"}}}),
        )
        .unwrap();
    let record = read_latest_release(&setup.client, NAMESPACE, "runner")
        .await
        .unwrap()
        .unwrap();
    let added: Vec<(String, DriftChange, Vec<String>)> =
        check_manifest_drift(&setup.client, NAMESPACE, &record.manifest)
            .await
            .unwrap()
            .drifts
            .into_iter()
            .map(|d| (d.field_path, d.change, d.managers))
            .collect();
    let by_edit = vec!["kubectl-edit".to_string()];
    assert_eq!(
        added,
        vec![
            (
                "metadata.labels.team".to_string(),
                DriftChange::Added,
                by_edit.clone()
            ),
            (
                "metadata.annotations.note".to_string(),
                DriftChange::Added,
                by_edit
            ),
        ]
    );
    admin
        .edit(
            &deployment_path,
            &json!({"metadata": {"labels": {"team": null}, "annotations": {"note": null}}}),
        )
        .unwrap();
    assert_eq!(
        check_manifest_drift(&setup.client, NAMESPACE, &record.manifest)
            .await
            .unwrap()
            .drifts,
        vec![]
    );

    // Drift: a changed replica count, a changed config map value, a deleted Role, an edited Secret.
    admin
        .edit(
            &format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{FULLNAME}"),
            &json!({"spec": {"replicas": 3}}),
        )
        .unwrap();
    admin
        .edit(
            &format!("/api/v1/namespaces/{NAMESPACE}/configmaps/{FULLNAME}"),
            &json!({"data": {"config.template.toml": "edited"}}),
        )
        .unwrap();
    admin
        .edit(
            &format!("/api/v1/namespaces/{NAMESPACE}/secrets/{FULLNAME}"),
            &json!({"data": {"runner-token": "ZWRpdGVk"}}),
        )
        .unwrap();
    Api::<Role>::namespaced(setup.client.clone(), NAMESPACE)
        .delete(FULLNAME, &DeleteParams::default())
        .await
        .unwrap();

    let report = check_manifest_drift(&setup.client, NAMESPACE, &record.manifest)
        .await
        .unwrap();
    let mut found: Vec<(String, String, DriftChange)> = report
        .drifts
        .iter()
        .map(|d| (d.kind.clone(), d.field_path.clone(), d.change))
        .collect();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        found,
        vec![
            (
                "ConfigMap".to_string(),
                "data.[\"config.template.toml\"]".to_string(),
                DriftChange::Changed
            ),
            (
                "Deployment".to_string(),
                "spec.replicas".to_string(),
                DriftChange::Changed
            ),
            (
                "Role".to_string(),
                String::new(),
                DriftChange::ObjectDeleted
            ),
            (
                "Secret".to_string(),
                "data.runner-token".to_string(),
                DriftChange::Changed
            ),
        ]
    );
    let secret_drift = report.drifts.iter().find(|d| d.kind == "Secret").unwrap();
    assert_eq!(secret_drift.values, None);
    assert!(!format!("{report:?}").contains("glrt-test-token"));
}

#[tokio::test]
async fn upgrade_adds_a_revision_and_uninstall_removes_the_record() {
    let setup = start().await;
    let runner = helm3();
    install(&setup, &runner, VALUES).await;
    install(
        &setup,
        &runner,
        "gitlabUrl: https://gitlab.example.com\nconcurrent: 8\n",
    )
    .await;
    let history = read_release_history(&setup.client, NAMESPACE, "runner")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history.latest.version, 2);
    assert_eq!(
        history.latest.config,
        json!({"gitlabUrl": "https://gitlab.example.com", "concurrent": 8})
    );
    assert_eq!(
        history
            .revisions
            .iter()
            .map(|r| (r.version, r.status.clone()))
            .collect::<Vec<_>>(),
        vec![(2, ReleaseStatus::Deployed), (1, ReleaseStatus::Superseded)]
    );

    let uninstall = Uninstall {
        release: "runner".into(),
        namespace: NAMESPACE.into(),
        wait: false,
        timeout: None,
        cascade: None,
    };
    runner
        .uninstall(&setup.connection, &uninstall, &options())
        .await
        .unwrap();
    assert_eq!(
        read_latest_release(&setup.client, NAMESPACE, "runner")
            .await
            .unwrap(),
        None
    );

    let error = runner
        .uninstall(&setup.connection, &uninstall, &options())
        .await
        .unwrap_err();
    assert_eq!(
        error.failure(),
        Some(HelmFailure::ReleaseNotFound),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_release_is_none_but_an_api_failure_is_an_error() {
    let setup = start().await;
    assert_eq!(
        read_latest_release(&setup.client, NAMESPACE, "nope")
            .await
            .unwrap(),
        None
    );
    assert!(
        inspect_release(&setup.client, NAMESPACE, "nope")
            .await
            .unwrap()
            .is_none()
    );

    let admin = setup.cluster.admin();
    let fault = |code: u16, count: u32| Fault {
        user_agent: None,
        method: Some("GET".into()),
        path: format!("/api/v1/namespaces/{NAMESPACE}/secrets"),
        count,
        action: FaultAction::Status {
            code,
            message: Some("etcd is having a bad day".into()),
        },
    };

    // The client does not retry (issue 13: one retry policy, the caller's Budget): a 503 is an
    // error, with the client's error kept for classification, after exactly one request.
    admin.clear_requests().unwrap();
    admin.inject_fault(&fault(503, 2)).unwrap();
    let started = std::time::Instant::now();
    let error = read_latest_release(&setup.client, NAMESPACE, "nope")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("could not list"), "{error}");
    assert!(
        matches!(&error, ReleaseReadError::Api { cause, .. } if matches!(cause.as_ref(), kube::Error::Api(status) if status.code == 503)),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(admin.requests().unwrap().len(), 1);
    admin.clear_faults().unwrap();

    // A 500 is not retried.
    admin.clear_requests().unwrap();
    admin.inject_fault(&fault(500, 1)).unwrap();
    assert!(
        inspect_release(&setup.client, NAMESPACE, "nope")
            .await
            .is_err()
    );
    assert_eq!(admin.requests().unwrap().len(), 1);
}

#[tokio::test]
async fn a_release_left_pending_is_reported_refused_by_helm_and_recoverable() {
    for runner in [helm4(), helm3()] {
        pending_release_scenario(runner).await;
    }
}

async fn pending_release_scenario(runner: HelmRunner) {
    let setup = start().await;
    // Fail every update of the release record: helm can mark it neither deployed nor failed.
    setup
        .cluster
        .admin()
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("PUT".into()),
            path: format!("/api/v1/namespaces/{NAMESPACE}/secrets/sh.helm.release.v1.runner.*"),
            count: 10,
            action: FaultAction::Status {
                code: 500,
                message: Some("injected".into()),
            },
        })
        .unwrap();
    // helm only logs a failure to record the outcome, so the install itself "succeeds".
    let _ = runner
        .upgrade_install(&setup.connection, &request(), VALUES, &options())
        .await;
    setup.cluster.admin().clear_faults().unwrap();

    let record = read_latest_release(&setup.client, NAMESPACE, "runner")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, ReleaseStatus::PendingInstall);
    assert!(record.status.is_pending());

    let error = runner
        .upgrade_install(&setup.connection, &request(), VALUES, &options())
        .await
        .unwrap_err();
    assert_eq!(
        error.failure(),
        Some(HelmFailure::OperationInProgress),
        "{error}"
    );
    assert!(!error.to_string().contains("glrt-test-token"));

    // An API failure of the recovery's read or of its rewrite keeps the client's error, so the
    // caller's retry policy can tell a 503 (retry the whole call) from a 403 (report).
    let admin = setup.cluster.admin();
    for (method, path, code) in [
        (
            "GET",
            format!("/api/v1/namespaces/{NAMESPACE}/secrets"),
            503,
        ),
        (
            "GET",
            format!("/api/v1/namespaces/{NAMESPACE}/secrets/sh.helm.release.v1.runner.v1"),
            403,
        ),
        (
            "PUT",
            format!("/api/v1/namespaces/{NAMESPACE}/secrets/sh.helm.release.v1.runner.v1"),
            503,
        ),
    ] {
        admin
            .inject_fault(&Fault {
                user_agent: None,
                method: Some(method.into()),
                path,
                count: 1,
                action: FaultAction::Status {
                    code,
                    message: Some("injected".into()),
                },
            })
            .unwrap();
        let error = mark_pending_release_failed(&setup.client, NAMESPACE, "runner", "x")
            .await
            .unwrap_err();
        assert!(
            matches!(error.api_error(), Some(kube::Error::Api(status)) if status.code == code),
            "{method} {code}: {error:?}"
        );
    }
    admin.clear_faults().unwrap();

    // Opt-in recovery: mark the pending revision failed, then the next upgrade goes through.
    let recovery =
        mark_pending_release_failed(&setup.client, NAMESPACE, "runner", "recovered by test")
            .await
            .unwrap();
    assert_eq!(
        recovery,
        Recovery::MarkedFailed {
            version: 1,
            previous: ReleaseStatus::PendingInstall
        }
    );
    let record = read_latest_release(&setup.client, NAMESPACE, "runner")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, ReleaseStatus::Failed);
    runner
        .upgrade_install(&setup.connection, &request(), VALUES, &options())
        .await
        .unwrap();
    let record = read_latest_release(&setup.client, NAMESPACE, "runner")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.version, record.status),
        (2, ReleaseStatus::Deployed)
    );
    let again = mark_pending_release_failed(&setup.client, NAMESPACE, "runner", "x")
        .await
        .unwrap();
    assert_eq!(
        again,
        Recovery::NotPending {
            version: 2,
            status: ReleaseStatus::Deployed
        }
    );
    assert_eq!(
        mark_pending_release_failed(&setup.client, NAMESPACE, "nope", "x")
            .await
            .unwrap(),
        Recovery::NoRelease
    );
}
