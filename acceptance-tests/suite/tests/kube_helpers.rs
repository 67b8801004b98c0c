//! The provider's shared Kubernetes helpers (`gitlabrunner::kube`) against the Kubernetes API
//! test server: ownership, pruning, idempotent delete, error classification of real API answers
//! (missing namespace, 403), retries within a budget, and cancellation.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use gitlabrunner::ProviderConfig;
use gitlabrunner::kube::{
    Budget, CancellationToken, KubeError, MANAGED_BY_LABEL, Objects, Pruning, client_for,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_connection::KubernetesConnection;
use kube_test_server::{AccessRule, Fault, FaultAction, Options, TestCluster, TokenGrant};
use serde_json::json;

fn config(kubeconfig: &Path) -> ProviderConfig {
    ProviderConfig {
        kubernetes: KubernetesConnection {
            config_path: Some(kubeconfig.display().to_string()),
            ..KubernetesConnection::default()
        },
        ..ProviderConfig::default()
    }
}

fn secret(name: &str, managed: bool) -> Secret {
    let mut labels = BTreeMap::from([("team".to_owned(), "ci".to_owned())]);
    if managed {
        labels.insert(
            MANAGED_BY_LABEL.to_owned(),
            "terraform-provider-gitlabrunner".to_owned(),
        );
    }
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "k".to_owned(),
            ByteString(b"v".to_vec()),
        )])),
        ..Secret::default()
    }
}

fn budget(seconds: u64) -> Budget {
    Budget::with_token(Duration::from_secs(seconds), CancellationToken::new())
}

fn start(options: Options) -> TestCluster {
    TestCluster::start(Options {
        namespaces: vec!["work".into()],
        ..options
    })
    .expect("test server")
}

#[tokio::test]
async fn ownership_pruning_and_idempotent_delete() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (token grants, fault injection); the default run covers it"
    );
    let cluster = start(Options::default());
    let client = client_for(&config(cluster.kubeconfig_path()))
        .await
        .expect("client");
    let secrets = Objects::<Secret>::new(client, "work");
    let b = budget(30);

    // Someone else's Secret is never taken over.
    cluster
        .admin()
        .create_object(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs", "namespace": "work"}}))
        .expect("foreign Secret");
    let err = secrets
        .create(
            "theirs",
            &secret("theirs", true),
            "gitlabrunner_token_secret",
            &b,
        )
        .await
        .expect_err("not ours");
    assert!(matches!(err, KubeError::NotOwned { .. }), "{err:?}");
    assert!(
        err.diagnostic()
            .detail
            .contains("terraform import gitlabrunner_token_secret.<resource name> work/theirs")
    );

    // Ours: created, labels pruned, deleted twice.
    let live = secrets
        .create(
            "ours",
            &secret("ours", true),
            "gitlabrunner_token_secret",
            &b,
        )
        .await
        .expect("created");
    assert_eq!(live.metadata.labels.as_ref().expect("labels")["team"], "ci");
    cluster
        .admin()
        .edit(
            "/api/v1/namespaces/work/secrets/ours",
            &json!({"metadata": {"labels": {"extra": "x"}}}),
        )
        .expect("edit");
    let live = secrets.get("ours", &b).await.expect("get").expect("exists");
    let pruning = Pruning {
        labels: vec!["extra".into()],
        ..Pruning::default()
    };
    let pruned = secrets
        .prune("ours", live, &pruning, &b)
        .await
        .expect("prune");
    let labels = pruned.metadata.labels.expect("labels");
    assert!(
        !labels.contains_key("extra") && labels.contains_key("team"),
        "{labels:?}"
    );
    secrets.delete("ours", &b).await.expect("delete");
    secrets
        .delete("ours", &b)
        .await
        .expect("deleting a gone object succeeds");
    assert!(secrets.get("ours", &b).await.expect("get").is_none());
}

#[tokio::test]
async fn a_missing_namespace_and_a_forbidden_verb_are_told_apart() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (token grants, fault injection); the default run covers it"
    );
    let cluster = start(Options {
        extra_tokens: vec![TokenGrant::restricted(
            "reader",
            "reader-token",
            vec![AccessRule {
                namespaces: vec!["work".into()],
                resources: vec!["secrets".into()],
                verbs: vec!["get".into()],
            }],
        )],
        ..Options::default()
    });
    let client = client_for(&config(cluster.kubeconfig_path()))
        .await
        .expect("client");
    let b = budget(30);
    let nowhere = Objects::<Secret>::new(client, "nowhere");
    assert!(
        nowhere.get("x", &b).await.expect("get").is_none(),
        "a missing namespace reads as a missing object"
    );
    let err = nowhere
        .apply("x", &secret("x", true), &b)
        .await
        .expect_err("no namespace");
    assert!(
        matches!(
            err,
            KubeError::Api {
                code: 404,
                namespace_missing: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.diagnostic().summary, "Namespace Not Found");

    let dir = tempfile::tempdir().expect("temp dir");
    let restricted = dir.path().join("reader.kubeconfig");
    cluster
        .write_kubeconfig(&restricted, Some("reader-token"))
        .expect("kubeconfig");
    let reader = Objects::<Secret>::new(
        client_for(&config(&restricted)).await.expect("client"),
        "work",
    );
    assert!(reader.get("x", &b).await.expect("get is allowed").is_none());
    let err = reader
        .apply("x", &secret("x", true), &b)
        .await
        .expect_err("patch is not allowed");
    let d = err.diagnostic();
    assert_eq!(d.summary, "Kubernetes Permission Denied");
    assert!(
        d.detail
            .contains("may not patch secrets in namespace \"work\""),
        "{}",
        d.detail
    );
    assert!(!d.detail.contains("reader-token"));
}

#[tokio::test]
async fn server_errors_are_retried_within_the_budget_and_cancellation_stops_at_once() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (token grants, fault injection); the default run covers it"
    );
    let cluster = start(Options::default());
    let admin = cluster.admin();
    let secrets = Objects::<Secret>::new(
        client_for(&config(cluster.kubeconfig_path()))
            .await
            .expect("client"),
        "work",
    );
    let path = "/api/v1/namespaces/work/secrets/flaky";
    let fault = |count, action| Fault {
        user_agent: None,
        method: Some("PATCH".into()),
        path: path.into(),
        count,
        action,
    };
    admin
        .inject_fault(&fault(
            3,
            FaultAction::Status {
                code: 500,
                message: None,
            },
        ))
        .expect("fault");
    secrets
        .apply("flaky", &secret("flaky", true), &budget(30))
        .await
        .expect("retried to success");

    admin
        .inject_fault(&fault(
            1000,
            FaultAction::Status {
                code: 502,
                message: Some("bad gateway".into()),
            },
        ))
        .expect("fault");
    let started = Instant::now();
    let err = secrets
        .apply("flaky", &secret("flaky", true), &budget(2))
        .await
        .expect_err("budget spent");
    assert!(matches!(err, KubeError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the budget: {:?}",
        started.elapsed()
    );
    assert_eq!(err.diagnostic().summary, "Kubernetes Operation Timed Out");
    admin.clear_faults().expect("clear");

    admin
        .inject_fault(&fault(1, FaultAction::Latency { ms: 10_000 }))
        .expect("fault");
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let err = secrets
        .apply(
            "flaky",
            &secret("flaky", true),
            &Budget::with_token(Duration::from_secs(60), token),
        )
        .await
        .expect_err("cancelled");
    assert!(matches!(err, KubeError::Cancelled { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// One retry policy (issue 13): a 503 is asked again a bounded number of times within the
/// budget — each attempt is one request, nothing underneath retries again — and a 403 is asked
/// once and reported in words, without a dump of the client's error.
#[tokio::test]
async fn a_503_is_retried_once_per_attempt_within_the_budget_and_a_403_is_asked_once() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (fault injection, request log); the default run covers it"
    );
    let cluster = start(Options::default());
    let admin = cluster.admin();
    let secrets = Objects::<Secret>::new(
        client_for(&config(cluster.kubeconfig_path()))
            .await
            .expect("client"),
        "work",
    );
    let get_fault = |name: &str, code, message: &str| Fault {
        user_agent: None,
        method: Some("GET".into()),
        path: format!("/api/v1/namespaces/work/secrets/{name}"),
        count: 1000,
        action: FaultAction::Status {
            code,
            message: Some(message.into()),
        },
    };
    let served = |name: &str| {
        let path = format!("/api/v1/namespaces/work/secrets/{name}");
        admin
            .requests()
            .expect("request log")
            .iter()
            .filter(|r| r.path == path)
            .count()
    };

    admin
        .inject_fault(&get_fault("busy", 503, "the server is busy"))
        .expect("fault");
    let started = Instant::now();
    let err = secrets
        .get("busy", &budget(2))
        .await
        .expect_err("budget spent");
    let KubeError::Timeout { attempts, .. } = err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!((2..=6).contains(&attempts), "{attempts} attempts in 2 s");
    assert_eq!(served("busy"), attempts as usize, "one request per attempt");

    admin
        .inject_fault(&get_fault(
            "locked",
            403,
            "secrets \"locked\" is forbidden: User \"ci\" cannot get resource \"secrets\"",
        ))
        .expect("fault");
    let err = secrets
        .get("locked", &budget(30))
        .await
        .expect_err("forbidden");
    assert!(
        matches!(
            err,
            KubeError::Api {
                code: 403,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(served("locked"), 1, "a 403 is not retried");
    let d = err.diagnostic();
    assert_eq!(d.summary, "Kubernetes Permission Denied");
    for dump in ["ErrorResponse", "Status {", "attempts", "Api("] {
        assert!(!d.detail.contains(dump), "{dump:?} in {}", d.detail);
    }
}

#[test]
fn a_client_cached_in_a_finished_runtime_is_not_reused() {
    acceptance::skip_in_real_cluster!(
        "drives its own in-process kube-test-server (token grants, fault injection); the default run covers it"
    );
    let cluster = start(Options::default());
    let settings = config(cluster.kubeconfig_path());
    let get_in_new_runtime = |settings: &ProviderConfig| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let secrets =
                Objects::<Secret>::new(client_for(settings).await.expect("client"), "work");
            secrets.get("nothing", &budget(10)).await
        })
        // The runtime (and the client's buffer worker on it) is dropped here.
    };
    assert!(
        get_in_new_runtime(&settings)
            .expect("first runtime")
            .is_none()
    );
    assert!(
        get_in_new_runtime(&settings)
            .expect("second runtime")
            .is_none()
    );
}
