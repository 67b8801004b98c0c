//! Refresh cost of `gitlabrunner_release` against the Kubernetes API test server, compared with
//! what users run by hand per release (`helm get values` + `helm get manifest`).
//!
//! For 10, 50 and 200 releases installed by `terraform apply` in one namespace each, prints:
//! (a) ReadResource over gRPC (plaintext go-plugin mode, 10 in flight as Terraform sends them)
//!     for all releases: time per release and API requests per release (from the test server's
//!     request log), vs the helm loop; with `GITLABRUNNER_BASELINE_PROVIDER_BIN` set, the same
//!     for that provider build (e.g. the one before shared reads), and the ratio;
//! (b) wall time of `terraform plan` over the releases;
//! (c) (a) again with 5 ms added to every API answer (fault injection), as from an API server
//!     across a network — where requests, not decoding, dominate.
//! Targets (issue 13): at 50 releases, ≤ 2 requests per release and a time per release ≥ 3×
//! lower than the baseline's.
//!
//! Run: `cargo build --release -p terraform-provider-gitlabrunner && cargo bench -p acceptance
//! --bench release_read` (the harness uses the provider build beside this executable, i.e. the
//! release one; set GITLABRUNNER_PROVIDER_BIN to use another). `GITLABRUNNER_BENCH_SIZES=10,50`
//! picks other sizes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acceptance::tools::workspace_root;
use acceptance::{KubeWorld, TerraformWorkdir};
use kube_test_server::{Fault, FaultAction};
use tfplugin::codec::{json as tfjson, msgpack};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::proto::tfplugin6::provider_client::ProviderClient;

const SIZES: [usize; 3] = [10, 50, 200];
/// Requests per release at 50 releases.
const TARGET_REQUESTS: f64 = 2.0;
/// Baseline time per release / new time per release, at 50 releases.
const TARGET_SPEEDUP: f64 = 3.0;
/// Latency added to every API answer in (c).
const API_LATENCY_MS: u64 = 5;

fn config(world: &KubeWorld, helm: &Path, namespace: &str, releases: usize) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    gitlabrunner = {{ source = "{source}" }}
  }}
}}
provider "gitlabrunner" {{
  helm_path = "{helm}"
  kubernetes {{
    config_path = "{kubeconfig}"
  }}
}}
resource "gitlabrunner_release" "runner" {{
  count             = {releases}
  name              = "gitlab-runner-${{count.index}}"
  namespace         = "{namespace}"
  chart             = "{chart}"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = "runner-token"
  wait              = false
  rbac {{
    create = true
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "delete"]
    }}
  }}
  runner {{
    kubernetes {{
      image          = "alpine:3.20"
      privileged     = true
      allowed_images = ["docker:*"]
    }}
  }}
}}
"#,
        source = acceptance::PROVIDER_SOURCE,
        helm = helm.display(),
        kubeconfig = world.kubeconfig().display(),
        chart = workspace_root()
            .join("acceptance-tests/charts/gitlab-runner")
            .display(),
    )
}

/// The provider started as Terraform starts it, in go-plugin's plaintext mode.
struct Plugin {
    child: std::process::Child,
    address: String,
}

impl Plugin {
    fn start(binary: &Path) -> Plugin {
        let mut child = Command::new(binary)
            .env(
                "TF_PLUGIN_MAGIC_COOKIE",
                "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
            )
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_CLIENT_CERT", "")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let fields: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(fields.get(2), Some(&"tcp"), "handshake line {line:?}");
        Plugin {
            child,
            address: fields[3].to_owned(),
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn helm_loop(world: &KubeWorld, helm: &Path, namespace: &str, releases: usize) -> Duration {
    let home = tempfile::tempdir().unwrap();
    let began = Instant::now();
    for i in 0..releases {
        for what in ["values", "manifest"] {
            let out = Command::new(helm)
                .args(["get", what, &format!("gitlab-runner-{i}"), "-n", namespace])
                .env("KUBECONFIG", world.kubeconfig())
                .env("HOME", home.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "helm get {what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    began.elapsed()
}

/// Reads every release with `in_flight` ReadResource calls at once (Terraform's default
/// `-parallelism` is 10; 1 = one after the other).
async fn read_all_over_grpc(
    world: &KubeWorld,
    helm: &Path,
    dir: &TerraformWorkdir,
    provider: &Path,
    in_flight: usize,
) -> Duration {
    let plugin = Plugin::start(provider);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", plugin.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ProviderClient::new(channel);
    let provider_type = gitlabrunner::config::schema().value_type();
    let provider_config = tfjson::decode(
        &provider_type,
        &serde_json::json!({
            "helm_path": helm.display().to_string(),
            "kubernetes": [{"config_path": world.kubeconfig().display().to_string()}],
            "gitlab": [],
        }),
        tfjson::UnknownAttributes::Reject,
    )
    .unwrap()
    .0;
    let configured = client
        .configure_provider(pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: Some(pb::DynamicValue {
                msgpack: msgpack::encode(&provider_type, &provider_config).unwrap(),
                json: Vec::new(),
            }),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        configured.diagnostics.is_empty(),
        "{:?}",
        configured.diagnostics
    );

    let release_type = gitlabrunner::resources::release::schema::schema().value_type();
    let state = dir.state();
    let instances = state["resources"][0]["instances"]
        .as_array()
        .unwrap()
        .clone();
    let requests: Vec<pb::read_resource::Request> = instances
        .iter()
        .map(|instance| {
            let (value, _) = tfjson::decode(
                &release_type,
                &instance["attributes"],
                tfjson::UnknownAttributes::Drop,
            )
            .unwrap();
            pb::read_resource::Request {
                type_name: "gitlabrunner_release".into(),
                current_state: Some(pb::DynamicValue {
                    msgpack: msgpack::encode(&release_type, &value).unwrap(),
                    json: Vec::new(),
                }),
                ..Default::default()
            }
        })
        .collect();
    let mut lanes: Vec<Vec<pb::read_resource::Request>> =
        (0..in_flight).map(|_| Vec::new()).collect();
    for (i, request) in requests.into_iter().enumerate() {
        lanes[i % in_flight].push(request);
    }
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes {
        let mut client = client.clone();
        tasks.spawn(async move {
            for request in lane {
                let response = client.read_resource(request).await.unwrap().into_inner();
                assert!(
                    response.diagnostics.is_empty(),
                    "{:?}",
                    response.diagnostics
                );
                assert!(response.new_state.is_some_and(|s| !s.msgpack.is_empty()));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    began.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Time and provider requests (not helm's) of one refresh of every release.
struct Refresh {
    per_release_ms: f64,
    requests_per_release: f64,
}

fn refresh(
    runtime: &tokio::runtime::Runtime,
    world: &KubeWorld,
    dir: &TerraformWorkdir,
    provider: &Path,
    releases: usize,
    latency_ms: Option<u64>,
) -> Refresh {
    let admin = world
        .admin()
        .expect("benchmarks run against the API test server");
    let helm = &world.tools().helm4;
    admin.clear_requests().unwrap();
    if let Some(ms) = latency_ms {
        admin
            .inject_fault(&Fault {
                method: Some("GET".into()),
                path: "*".into(),
                count: 1_000_000,
                action: FaultAction::Latency { ms },
            })
            .unwrap();
    }
    let took = runtime.block_on(read_all_over_grpc(world, helm, dir, provider, 10));
    admin.clear_faults().unwrap();
    let requests = admin
        .requests()
        .unwrap()
        .iter()
        .filter(|r| !r.user_agent.starts_with("Helm"))
        .count();
    Refresh {
        per_release_ms: ms(took) / releases as f64,
        requests_per_release: requests as f64 / releases as f64,
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("GITLABRUNNER_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| SIZES.to_vec())
}

fn main() {
    let world = KubeWorld::start();
    let tools = world.tools().clone();
    let baseline = std::env::var_os("GITLABRUNNER_BASELINE_PROVIDER_BIN").map(PathBuf::from);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "gitlabrunner_release refresh, Kubernetes API test server, ReadResource over gRPC, 10 in flight"
    );
    for releases in sizes() {
        let namespace = world.create_namespace("bench");
        let mut dir = TerraformWorkdir::new(&tools.terraform, &tools.provider);
        dir.set_env("TF_LOG", "");
        dir.set_timeout(Duration::from_secs(3600));
        dir.write(
            "main.tf",
            &config(&world, &tools.helm4, &namespace, releases),
        );
        eprintln!("installing {releases} releases with terraform apply…");
        dir.run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-parallelism=10",
        ])
        .success();

        // (a) ReadResource, after one warm-up run.
        let _warm = refresh(&runtime, &world, &dir, &tools.provider, releases, None);
        let new = refresh(&runtime, &world, &dir, &tools.provider, releases, None);
        // A baseline that cannot read this state (another schema) is reported, not fatal.
        let old = baseline.as_deref().and_then(|provider| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                refresh(&runtime, &world, &dir, provider, releases, None)
            }))
            .map_err(|_| eprintln!("the baseline provider failed to refresh; see above"))
            .ok()
        });
        // (c) The same with API_LATENCY_MS added to every API answer, as from an API server
        // across a network (the test server answers in well under a millisecond).
        let remote_new = refresh(
            &runtime,
            &world,
            &dir,
            &tools.provider,
            releases,
            Some(API_LATENCY_MS),
        );
        let remote_old = baseline.as_deref().and_then(|provider| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                refresh(
                    &runtime,
                    &world,
                    &dir,
                    provider,
                    releases,
                    Some(API_LATENCY_MS),
                )
            }))
            .ok()
        });
        let helm = ms(helm_loop(&world, &tools.helm4, &namespace, releases)) / releases as f64;

        // (b) terraform plan over the releases.
        let began = Instant::now();
        let plan = dir.run(&[
            "plan",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            "-parallelism=10",
        ]);
        let plan_time = began.elapsed();
        plan.expect_code(0);

        println!(
            "{releases:>3} releases | (a) this build: {:.2} ms/release, {:.2} requests/release | helm get values + manifest: {helm:.1} ms/release ({:.0}x)",
            new.per_release_ms,
            new.requests_per_release,
            helm / new.per_release_ms,
        );
        if let Some(old) = &old {
            let speedup = old.per_release_ms / new.per_release_ms;
            println!(
                "{releases:>3} releases | (a) baseline:   {:.2} ms/release, {:.2} requests/release | this build is {speedup:.1}x faster per release{}",
                old.per_release_ms,
                old.requests_per_release,
                if releases == 50 {
                    format!(
                        " (target >= {TARGET_SPEEDUP}x: {})",
                        if speedup >= TARGET_SPEEDUP {
                            "met"
                        } else {
                            "NOT met"
                        }
                    )
                } else {
                    String::new()
                }
            );
        }
        if releases == 50 {
            println!(
                " 50 releases | requests/release target <= {TARGET_REQUESTS}: {}",
                if new.requests_per_release <= TARGET_REQUESTS {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
        println!(
            "{releases:>3} releases | (c) +{API_LATENCY_MS} ms per API answer: this build {:.2} ms/release{}",
            remote_new.per_release_ms,
            remote_old
                .map(|old| format!(
                    ", baseline {:.2} ms/release: {:.1}x faster",
                    old.per_release_ms,
                    old.per_release_ms / remote_new.per_release_ms
                ))
                .unwrap_or_default()
        );
        println!(
            "{releases:>3} releases | (b) terraform plan (refresh of {releases}): {:.1} ms, {:.2} ms/release",
            ms(plan_time),
            ms(plan_time) / releases as f64
        );
    }
}
