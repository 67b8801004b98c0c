//! Test support: the Kubernetes API test server in-process, with a client for it, and the one
//! injected fault the provider's retry tests use.

use kube_test_server::{AdminClient, Fault, FaultAction, Options, TestCluster};

/// A test server with `namespace` created, and a client resolved from its kubeconfig the way the
/// provider resolves a `kubernetes { config_path }` block.
pub async fn cluster_with_namespace(namespace: &str) -> (TestCluster, kube::Client) {
    let cluster = TestCluster::start(Options {
        namespaces: vec![namespace.to_owned()],
        ..Options::default()
    })
    .expect("the test server starts");
    let client = kube_connection::KubernetesConnection {
        config_path: Some(cluster.kubeconfig_path().to_string_lossy().into_owned()),
        ..Default::default()
    }
    .resolve(&|_| None)
    .expect("the kubeconfig resolves")
    .client()
    .await
    .expect("a client");
    (cluster, client)
}

/// The next `method` request to `path` is answered with `code` (a Status saying "injected").
pub fn status_fault(method: &str, path: String, code: u16) -> Fault {
    Fault {
        user_agent: None,
        method: Some(method.to_owned()),
        path,
        count: 1,
        action: FaultAction::Status {
            code,
            message: Some("injected".into()),
        },
    }
}

/// The requests the server has answered since the log was last cleared, as (method, status).
pub fn served(admin: &AdminClient) -> Vec<(String, u16)> {
    admin
        .requests()
        .expect("the request log")
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect()
}

/// The statuses of the requests the server has answered since the log was last cleared.
pub fn served_statuses(admin: &AdminClient) -> Vec<u16> {
    admin
        .requests()
        .expect("the request log")
        .into_iter()
        .map(|r| r.status)
        .collect()
}

/// The paths of the requests the server has answered since the log was last cleared.
pub fn served_paths(admin: &AdminClient) -> Vec<String> {
    admin
        .requests()
        .expect("the request log")
        .into_iter()
        .map(|r| r.path)
        .collect()
}
