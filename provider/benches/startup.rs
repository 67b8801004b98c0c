//! Start-up cost of the provider binary, as Terraform pays it ~6 times per apply.
//! Prints: time from process start to the handshake line, time of one GetProviderSchema over
//! mTLS (including the TLS handshake) and peak RSS (VmHWM), against the targets.
//! Run with `cargo bench -p terraform-provider-gitlabrunner --bench startup`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ClientIdentity, Plugin};
use tfplugin::proto::plugin::Empty;
use tfplugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::proto::tfplugin6::provider_client::ProviderClient;

const RUNS: usize = 10;
const HANDSHAKE_TARGET: Duration = Duration::from_millis(20);
const RSS_TARGET_KB: u64 = 30 * 1024;

struct Sample {
    handshake: Duration,
    schema: Duration,
    first_connect_and_schema: Duration,
    peak_rss_kb: u64,
}

async fn one_run() -> Sample {
    let identity = ClientIdentity::generate();
    let mut plugin = Plugin::start(Some(&identity.pem));
    let handshake = plugin.handshake_after;
    let began = Instant::now();
    let channel = plugin.connect_tls(&identity).await.expect("mTLS dial");
    let mut client = ProviderClient::new(channel.clone());
    let schema_began = Instant::now();
    client
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema");
    let schema = schema_began.elapsed();
    let first_connect_and_schema = began.elapsed();
    let peak_rss_kb = plugin.peak_rss_kb().unwrap_or(0);
    let _ = GrpcControllerClient::new(channel).shutdown(Empty {}).await;
    let exited = plugin.wait_exit(Duration::from_secs(2));
    assert_eq!(exited, Some(0), "provider did not exit after Shutdown");
    Sample {
        handshake,
        schema,
        first_connect_and_schema,
        peak_rss_kb,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "within target" } else { "OVER TARGET" }
}

fn main() {
    // `cargo test --benches` runs benches with --test-ish flags; only measure under `cargo bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let samples: Vec<Sample> = (0..RUNS).map(|_| runtime.block_on(one_run())).collect();
    let handshake = median(samples.iter().map(|s| s.handshake).collect());
    let handshake_max = samples.iter().map(|s| s.handshake).max().unwrap();
    let schema = median(samples.iter().map(|s| s.schema).collect());
    let connect = median(samples.iter().map(|s| s.first_connect_and_schema).collect());
    let rss = samples.iter().map(|s| s.peak_rss_kb).max().unwrap();
    println!(
        "provider start-up over {RUNS} runs (binary: {})",
        common::binary()
    );
    println!(
        "  process start -> handshake line: median {:.2} ms, max {:.2} ms (target < {} ms: {})",
        handshake.as_secs_f64() * 1e3,
        handshake_max.as_secs_f64() * 1e3,
        HANDSHAKE_TARGET.as_millis(),
        verdict(handshake < HANDSHAKE_TARGET)
    );
    println!(
        "  GetProviderSchema over mTLS:     median {:.2} ms (TLS dial + first call: {:.2} ms)",
        schema.as_secs_f64() * 1e3,
        connect.as_secs_f64() * 1e3
    );
    if handshake >= HANDSHAKE_TARGET {
        println!(
            "  hint: aws-lc seeds its RNG from CPU jitter entropy (~50-90 ms per process); build with \
             AWS_LC_SYS_NO_JITTER_ENTROPY=1 (OS getrandom + RDRAND instead) to start in ~2-3 ms"
        );
    }
    println!(
        "  peak RSS (VmHWM):                {:.1} MB (target < {} MB: {})",
        rss as f64 / 1024.0,
        RSS_TARGET_KB / 1024,
        verdict(rss < RSS_TARGET_KB)
    );
}
