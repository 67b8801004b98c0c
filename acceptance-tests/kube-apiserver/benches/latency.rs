//! Latency benchmark: 10 concurrent kube clients against one in-process server (HTTPS), each doing
//! a bounded mix of GET, label-selector LIST and server-side-apply PATCH. Prints p50/p99 per kind
//! and overall, and throughput.
//!
//! `cargo bench -p kube-test-server --bench latency` (`KTS_BENCH_OPS` = ops per client, default 300).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use kube_test_server::{Options, TestCluster};
use serde_json::json;

const CLIENTS: usize = 10;
const NAMESPACE: &str = "bench";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{label:<10} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn client(cluster: &TestCluster) -> Client {
    let kc = Kubeconfig::read_from(cluster.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` run a short smoke pass.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let ops_per_client: usize = std::env::var("KTS_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 300 } else { 20 });

    let cluster = TestCluster::start(Options {
        namespaces: vec![NAMESPACE.into()],
        ..Default::default()
    })
    .expect("server");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let seed = client(&cluster).await;
        let _ = Api::<Namespace>::all(seed.clone()).get(NAMESPACE).await.expect("namespace");
        let cms: Api<ConfigMap> = Api::namespaced(seed.clone(), NAMESPACE);
        for i in 0..100 {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(format!("seed-{i}")),
                    labels: Some([("group".to_string(), (i % 10).to_string())].into()),
                    ..Default::default()
                },
                data: Some([("k".to_string(), "v".repeat(200))].into()),
                ..Default::default()
            };
            cms.create(&PostParams::default(), &cm).await.expect("seed");
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..CLIENTS {
            let api: Api<ConfigMap> = Api::namespaced(client(&cluster).await, NAMESPACE);
            tasks.push(tokio::spawn(async move {
                let (mut gets, mut lists, mut applies) = (Vec::new(), Vec::new(), Vec::new());
                for i in 0..ops_per_client {
                    let t = Instant::now();
                    match i % 4 {
                        0 | 1 => {
                            api.get(&format!("seed-{}", (worker * 7 + i) % 100)).await.expect("get");
                            gets.push(t.elapsed());
                        }
                        2 => {
                            let list = api.list(&ListParams::default().labels(&format!("group={}", i % 10))).await.expect("list");
                            assert_eq!(list.items.len(), 10);
                            lists.push(t.elapsed());
                        }
                        _ => {
                            let name = format!("w{worker}-{}", i % 20);
                            let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": name, "labels": {"worker": worker.to_string()}},
                                "data": {"i": i.to_string()}});
                            api.patch(&name, &PatchParams::apply("bench").force(), &Patch::Apply(body)).await.expect("apply");
                            applies.push(t.elapsed());
                        }
                    }
                }
                (gets, lists, applies)
            }));
        }
        let (mut gets, mut lists, mut applies) = (Vec::new(), Vec::new(), Vec::new());
        for task in tasks {
            let (g, l, a) = task.await.expect("worker");
            gets.extend(g);
            lists.extend(l);
            applies.extend(a);
        }
        let elapsed = started.elapsed();
        let total = gets.len() + lists.len() + applies.len();
        println!("kube-test-server latency: {CLIENTS} concurrent kube clients over HTTPS, {ops_per_client} ops each");
        let all: Vec<Duration> = gets.iter().chain(&lists).chain(&applies).copied().collect();
        report("GET", gets);
        report("LIST sel", lists);
        report("SSA PATCH", applies);
        report("all", all);
        println!("throughput: {:.0} requests/s ({total} requests in {:.2} s)", total as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64());
    });
    cluster.shutdown();
}
