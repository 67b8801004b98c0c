//! The test hooks (admin surface), authentication/authorization, plain-HTTP mode and the binary.
//! These need the test server and skip in real-cluster mode.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Cli, Env, HelmKind, RUNNABLE_POD, chart, client_for};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube_test_server::{AccessRule, Fault, FaultAction, Options, TokenGrant};
use serde_json::json;

async fn namespace(env: &Env) -> kube::Client {
    let client = env.client().await;
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(env.namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_status_latency_and_dropped_connections() {
    needs_test_server!();
    let env = Env::start("faults");
    let client = namespace(&env).await;
    let admin = env.admin();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &env.namespace);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("f".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let path = format!("/api/v1/namespaces/{}/configmaps/*", env.namespace);

    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("GET".into()),
            path: path.clone(),
            count: 1,
            action: FaultAction::Status {
                code: 500,
                message: Some("injected".into()),
            },
        })
        .expect("inject");
    match cms.get("f").await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.message.as_str()), (500, "injected")),
        other => panic!("expected 500, got {other:?}"),
    }
    cms.get("f")
        .await
        .expect("second request is served normally");

    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: None,
            path: path.clone(),
            count: 1,
            action: FaultAction::Latency { ms: 400 },
        })
        .expect("inject");
    let started = Instant::now();
    cms.get("f").await.expect("slow get");
    assert!(started.elapsed() >= Duration::from_millis(400));

    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("GET".into()),
            path,
            count: 1,
            action: FaultAction::Drop,
        })
        .expect("inject");
    let dropped = cms.get("f").await;
    assert!(
        matches!(dropped, Err(ref e) if !matches!(e, kube::Error::Api(_))),
        "{dropped:?}"
    );
    cms.get("f").await.expect("served after the drop");

    let log = admin.requests().expect("request log");
    let gets: Vec<u16> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/configmaps/f"))
        .map(|r| r.status)
        .collect();
    assert_eq!(gets, [500, 200, 200, 0, 200]);
    assert!(
        log.iter()
            .all(|r| r.timestamp.ends_with('Z') && !r.method.is_empty())
    );
    admin.clear_requests().expect("clear");
    assert!(admin.requests().expect("log").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_pods_phases_and_state_dump() {
    needs_test_server!();
    let env = Env::start("jobs");
    let client = namespace(&env).await;
    let admin = env.admin();
    let ns = env.namespace.as_str();
    let labels = BTreeMap::from([
        (
            "manager.runner.gitlab.com/id-short".to_string(),
            "abcdef123".to_string(),
        ),
        (
            "manager.runner.gitlab.com/name".to_string(),
            "fixture-runner".to_string(),
        ),
    ]);
    for i in 0..3 {
        admin
            .create_pod(
                ns,
                &format!("runner-abcdef123-project-1-concurrent-{i}"),
                &labels,
                "Running",
            )
            .expect("job pod");
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let running = || {
        ListParams::default()
            .labels("manager.runner.gitlab.com/id-short=abcdef123")
            .fields("status.phase=Running")
    };
    assert_eq!(pods.list(&running()).await.expect("list").items.len(), 3);
    admin
        .set_pod_phase(ns, "runner-abcdef123-project-1-concurrent-0", "Succeeded")
        .expect("phase");
    admin
        .set_pod_phase(ns, "runner-abcdef123-project-1-concurrent-1", "Failed")
        .expect("phase");
    let left = pods.list(&running()).await.expect("list");
    assert_eq!(left.items.len(), 1);
    assert_eq!(
        left.items[0].metadata.name.as_deref(),
        Some("runner-abcdef123-project-1-concurrent-2")
    );
    let done = pods
        .get("runner-abcdef123-project-1-concurrent-0")
        .await
        .expect("get");
    assert_eq!(
        done.status.and_then(|s| s.phase).as_deref(),
        Some("Succeeded")
    );

    let state = admin.state().expect("state");
    let objects = state["objects"].as_array().expect("objects");
    assert_eq!(
        objects
            .iter()
            .filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == ns)
            .count(),
        3
    );
    assert!(
        state["resourceVersion"]
            .as_str()
            .expect("rv")
            .parse::<u64>()
            .expect("numeric")
            > 0
    );
}

/// An out-of-band edit through the admin surface (field manager `kubectl-edit`) makes helm 4's
/// next server-side apply conflict, exactly as on a real cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edit_then_helm4_upgrade_conflicts() {
    needs_test_server!();
    let env = Env::start("edit");
    let helm = env.helm(HelmKind::V4);
    let ns = env.namespace.as_str();
    let chart = chart();
    let chart = chart.to_str().expect("path");
    let mut install = vec![
        "install",
        "e",
        chart,
        "--namespace",
        ns,
        "--create-namespace",
        "--set",
        "concurrent=2",
    ];
    install.extend_from_slice(RUNNABLE_POD);
    helm.ok(&install);
    let edited = env
        .admin()
        .edit(
            &format!("/api/v1/namespaces/{ns}/configmaps/e-gitlab-runner"),
            &json!({"data": {"runner-name": "by-hand"}}),
        )
        .expect("edit");
    assert_eq!(edited["data"]["runner-name"], "by-hand");
    let mut upgrade = vec![
        "upgrade",
        "e",
        chart,
        "--namespace",
        ns,
        "--set",
        "runners.name=helm",
    ];
    upgrade.extend_from_slice(RUNNABLE_POD);
    let err = helm.fails(&upgrade);
    assert!(err.contains("Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.runner-name"), "{err}");

    // The request log shows helm's protobuf release-secret writes.
    let log = env.admin().requests().expect("log");
    let release_post = log
        .iter()
        .find(|r| r.method == "POST" && r.path == format!("/api/v1/namespaces/{ns}/secrets"))
        .expect("release secret POST");
    assert!(
        release_post
            .content_type
            .starts_with("application/vnd.kubernetes.protobuf"),
        "{release_post:?}"
    );
    assert!(
        release_post.user_agent.starts_with("Helm/4"),
        "{release_post:?}"
    );
    assert!(log.iter().any(|r| r.method == "PATCH"
        && r.content_type == "application/apply-patch+yaml"
        && r.query.contains("fieldManager=helm")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_unauthorized_and_forbidden() {
    needs_test_server!();
    let limited = TokenGrant::restricted(
        "ci-reader",
        "limited-token-value",
        vec![AccessRule {
            namespaces: vec!["team-a".into()],
            resources: vec!["configmaps".into()],
            verbs: vec!["get".into(), "list".into()],
        }],
    );
    let env = Env::start_with(
        "auth",
        Options {
            extra_tokens: vec![limited],
            namespaces: vec!["team-a".into()],
            ..Default::default()
        },
    );
    let cluster = env.cluster.as_ref().expect("server");
    let limited_kc = env.dir.path().join("limited");
    cluster
        .write_kubeconfig(&limited_kc, Some("limited-token-value"))
        .expect("kubeconfig");
    let anonymous_kc = env.dir.path().join("anonymous");
    cluster
        .write_kubeconfig(&anonymous_kc, None)
        .expect("kubeconfig");

    let anonymous = client_for(&anonymous_kc).await;
    match Api::<ConfigMap>::namespaced(anonymous, "team-a")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized")),
        other => panic!("expected 401, got {other:?}"),
    }
    let client = client_for(&limited_kc).await;
    let allowed: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    allowed
        .list(&ListParams::default())
        .await
        .expect("list allowed");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("x".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match allowed.create(&PostParams::default(), &cm).await {
        Err(kube::Error::Api(s)) => {
            assert!(s.is_forbidden());
            assert_eq!(
                s.message,
                "configmaps is forbidden: User \"ci-reader\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-a\""
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    match Api::<ConfigMap>::namespaced(client, "default")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert!(s.is_forbidden()),
        other => panic!("expected 403, got {other:?}"),
    }
    let kubectl = env.kubectl();
    let out = kubectl.run(&[
        "--kubeconfig",
        limited_kc.to_str().expect("path"),
        "get",
        "secrets",
        "-n",
        "team-a",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_mode_needs_no_credentials() {
    needs_test_server!();
    let env = Env::start_with(
        "http",
        Options {
            https: false,
            ..Default::default()
        },
    );
    let cluster = env.cluster.as_ref().expect("server");
    assert!(cluster.url().starts_with("http://"));
    assert!(cluster.token().is_none());
    let helm = env.helm(HelmKind::V4);
    let chart = chart();
    let mut install = vec![
        "install",
        "plain",
        chart.to_str().expect("path"),
        "--namespace",
        &env.namespace,
        "--create-namespace",
        "--wait",
        "--timeout",
        "60s",
    ];
    install.extend_from_slice(RUNNABLE_POD);
    helm.ok(&install);
    let listed = helm.ok(&["list", "--all-namespaces", "-q"]);
    assert_eq!(listed.trim(), "plain");
    let cm = cluster
        .object(
            "v1",
            "ConfigMap",
            Some(&env.namespace),
            "plain-gitlab-runner",
        )
        .expect("configmap");
    assert_eq!(cm["metadata"]["labels"]["release"], "plain");
}

#[test]
fn binary_serves_until_killed() {
    needs_test_server!();
    let dir = tempfile::tempdir().expect("temp");
    let kubeconfig = dir.path().join("kc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-test-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig-out",
            kubeconfig.to_str().expect("path"),
            "--ready-delay-ms",
            "10",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut urls = BTreeMap::new();
    for _ in 0..3 {
        let line = lines.next().expect("line").expect("read");
        let (k, v) = line.split_once('=').expect("KEY=value");
        urls.insert(k.to_string(), v.to_string());
    }
    assert!(urls["KUBE_TEST_SERVER_URL"].starts_with("https://127.0.0.1:"));
    assert!(urls["KUBE_TEST_SERVER_ADMIN_URL"].starts_with("http://127.0.0.1:"));
    assert_eq!(urls["KUBECONFIG"], kubeconfig.to_str().expect("path"));
    let kubectl = common::tool("KUBECTL_BIN", "kubectl");
    let out = Command::new(kubectl)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().expect("path"),
            "get",
            "namespaces",
            "-o",
            "name",
        ])
        .env("HOME", dir.path())
        .output()
        .expect("kubectl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("namespace/default") && text.contains("namespace/kube-system"),
        "{text}"
    );
    let admin = kube_test_server::AdminClient::new(&urls["KUBE_TEST_SERVER_ADMIN_URL"]);
    assert!(
        admin
            .requests()
            .expect("log")
            .iter()
            .any(|r| r.path == "/api/v1/namespaces")
    );
    // SIGTERM (what scripts and CI send) stops it cleanly: exit 0, listener closed.
    let api_address = urls["KUBE_TEST_SERVER_URL"]
        .trim_start_matches("https://")
        .to_owned();
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(terminated.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kube-test-server did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(std::net::TcpStream::connect(&api_address).is_err());
}

/// Timing can change at run time: a slow pod termination is observable (deletionTimestamp set,
/// pod still listed) until the grace delay passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_termination_grace_is_observable() {
    needs_test_server!();
    let env = Env::start("grace");
    let client = namespace(&env).await;
    let admin = env.admin();
    admin
        .set_timing(
            Some(Duration::from_millis(10)),
            Some(Duration::from_millis(1500)),
        )
        .expect("timing");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), &env.namespace);
    let deploy: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
        "metadata": {"name": "mgr"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "mgr"}}, "template": {"metadata": {"labels": {"app": "mgr"}},
            "spec": {"containers": [{"name": "c", "image": "pause"}]}}}
    }))
    .expect("deployment");
    deployments
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &env.namespace);
    common::eventually("pod running", Duration::from_secs(10), || {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().fields("status.phase=Running"))
                .await
                .expect("list")
                .items
                .len()
                == 1
        }
    })
    .await;
    deployments
        .patch(
            "mgr",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .expect("scale to zero");
    let terminating = pods
        .list(&ListParams::default().labels("app=mgr"))
        .await
        .expect("list");
    assert_eq!(terminating.items.len(), 1);
    assert!(terminating.items[0].metadata.deletion_timestamp.is_some());
    common::eventually("pod gone", Duration::from_secs(10), || {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels("app=mgr"))
                .await
                .expect("list")
                .items
                .is_empty()
        }
    })
    .await;
}
