//! The refresh (`Release::read`) runs within the operation's `Budget`, like create, update and
//! delete: its `timeouts.read` limit bounds the retries of transient API errors, and Terraform's
//! cancellation (`StopProvider`) ends it at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_connection::KubernetesConnection;
use kube_test_server::{Fault, FaultAction, TestCluster};
use tfplugin::{
    CancellationToken, Context, Diagnostic, Diagnostics, Document, PrivateState, ReadRequest,
    ReadResponse, Resource, Value,
};

use super::Release;
use crate::ProviderConfig;
use crate::kube::test_cluster::cluster_with_namespace;

const NAMESPACE: &str = "ci";

/// Every listing of the namespace's Secrets (the release's revisions) answers 503.
fn secrets_unavailable() -> Fault {
    Fault {
        user_agent: None,
        method: Some("GET".to_owned()),
        path: format!("/api/v1/namespaces/{NAMESPACE}/secrets*"),
        count: 10_000,
        action: FaultAction::Status {
            code: 503,
            message: Some("injected".into()),
        },
    }
}

fn context(cluster: &TestCluster, cancel: CancellationToken) -> Context {
    let config = ProviderConfig {
        kubernetes: KubernetesConnection {
            config_path: Some(cluster.kubeconfig_path().to_string_lossy().into_owned()),
            ..KubernetesConnection::default()
        },
        ..ProviderConfig::default()
    };
    Context::new(Some(Arc::new(config)), cancel)
}

/// The state of release `ci/runner`, with `timeouts { read = … }` when given.
fn state(read_timeout: Option<&str>) -> Document {
    let ty = Arc::new(super::schema::schema().value_type());
    let mut attributes = vec![
        ("name", Value::from("runner")),
        ("namespace", Value::from(NAMESPACE)),
    ];
    if let Some(limit) = read_timeout {
        attributes.push(("timeouts", Value::object([("read", Value::from(limit))])));
    }
    let value = Value::object(attributes)
        .conform(&ty)
        .expect("the state conforms to the schema");
    Document::new(ty, value)
}

/// Runs `Release::read` and returns its one error and how long it took.
async fn failed_read(ctx: &Context, state: Document) -> (Diagnostic, Duration) {
    let request = ReadRequest {
        state: state.clone(),
        private: PrivateState::default(),
    };
    let mut response = ReadResponse {
        state,
        private: PrivateState::default(),
        diagnostics: Diagnostics::new(),
    };
    let started = Instant::now();
    let error = Release
        .read(ctx, request, &mut response)
        .await
        .expect_err("the read fails while the API server answers 503");
    let took = started.elapsed();
    let errors: Vec<Diagnostic> = error.iter().filter(|d| d.is_error()).cloned().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].clone(), took)
}

#[tokio::test]
async fn a_refresh_stops_retrying_when_terraform_cancels() {
    let (cluster, _client) = cluster_with_namespace(NAMESPACE).await;
    cluster
        .admin()
        .inject_fault(&secrets_unavailable())
        .expect("the fault is injected");
    let cancel = CancellationToken::new();
    let ctx = context(&cluster, cancel.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });

    let (error, took) = failed_read(&ctx, state(None)).await;

    assert_eq!(error.summary, "Cannot Read Helm Release");
    assert!(
        error.detail.contains("Operation Cancelled"),
        "{}",
        error.detail
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_refresh_retries_transient_errors_only_within_its_read_timeout() {
    let (cluster, _client) = cluster_with_namespace(NAMESPACE).await;
    cluster
        .admin()
        .inject_fault(&secrets_unavailable())
        .expect("the fault is injected");
    let ctx = context(&cluster, CancellationToken::new());

    let (error, took) = failed_read(&ctx, state(Some("1s"))).await;

    assert_eq!(error.summary, "Cannot Read Helm Release");
    assert!(
        error.detail.contains("Kubernetes Operation Timed Out") && error.detail.contains("503"),
        "{}",
        error.detail
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}
