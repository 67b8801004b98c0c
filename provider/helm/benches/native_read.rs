#![allow(clippy::unwrap_used)] // a benchmark program

//! Native release read + drift check vs `helm get values` + `helm get manifest`, per release,
//! against the Kubernetes API test server. Prints times, the ratio and requests per release.
//!
//! `cargo bench -p helm-driver --bench native_read` (BENCH_RELEASES=N, default 20).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helm_driver::{
    ChartSource, HelmBinary, HelmRunner, RunOptions, UpgradeInstall, inspect_release,
};
use kube_connection::KubernetesConnection;
use kube_test_server::{Options, TestCluster};

fn tool(variable: &str, file: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/bin")
                .join(file)
        })
}

#[tokio::main]
async fn main() {
    let releases: usize = std::env::var("BENCH_RELEASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let cluster = TestCluster::start(Options {
        namespaces: vec!["bench".into()],
        ..Default::default()
    })
    .unwrap();
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let connection = KubernetesConnection {
        config_path: Some(kubeconfig.to_string_lossy().into_owned()),
        ..Default::default()
    }
    .resolve(&|_| None)
    .unwrap();
    let client = connection.client().await.unwrap();
    let helm_path = tool("HELM4_BIN", "helm");
    let runner = HelmRunner::new(HelmBinary::detect(Some(&helm_path)).unwrap());
    let chart =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../acceptance-tests/charts/gitlab-runner");
    let values =
        "gitlabUrl: https://gitlab.example.com\nrunnerToken: glrt-bench\nrbac:\n  create: true\n";

    let names: Vec<String> = (0..releases).map(|i| format!("bench-{i}")).collect();
    let started = Instant::now();
    for name in &names {
        let request = UpgradeInstall::new(
            name.clone(),
            "bench",
            ChartSource::Local {
                path: chart.clone(),
            },
        );
        runner
            .upgrade_install(
                &connection,
                &request,
                values,
                &RunOptions::new(Duration::from_secs(120)),
            )
            .await
            .unwrap();
    }
    println!(
        "setup: {releases} releases installed with helm 4 in {:.1?}",
        started.elapsed()
    );

    let admin = cluster.admin();
    admin.clear_requests().unwrap();
    let started = Instant::now();
    let mut requests = 0;
    for name in &names {
        let inspection = inspect_release(&client, "bench", name)
            .await
            .unwrap()
            .unwrap();
        assert!(inspection.drift.drifts.is_empty());
        requests += inspection.api_requests;
    }
    let native = started.elapsed();
    let served = admin.requests().unwrap().len();
    assert_eq!(served, requests);

    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for name in &names {
        for what in ["values", "manifest"] {
            let output = std::process::Command::new(&helm_path)
                .args(["get", what, name, "--namespace", "bench", "--kubeconfig"])
                .arg(&kubeconfig)
                .env("HOME", home.path())
                .env("HELM_CACHE_HOME", home.path().join("cache"))
                .env("HELM_CONFIG_HOME", home.path().join("config"))
                .env("HELM_DATA_HOME", home.path().join("data"))
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let helm = started.elapsed();

    let per = |total: Duration| total.as_secs_f64() * 1000.0 / releases as f64;
    println!(
        "native read + drift check: {:.1?} total, {:.2} ms/release",
        native,
        per(native)
    );
    println!(
        "helm get values + get manifest: {:.1?} total, {:.2} ms/release",
        helm,
        per(helm)
    );
    println!(
        "speed-up: {:.1}x",
        helm.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "API requests per native refresh: {:.1} (1 release list + 1 GET per manifest object)",
        requests as f64 / releases as f64
    );
}
