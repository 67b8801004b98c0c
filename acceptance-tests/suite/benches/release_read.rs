//! Refresh cost of `gitlabrunner_release` against the Kubernetes API test server, compared with
//! what users run by hand per release (`helm get values` + `helm get manifest`).
//!
//! For 10, 50 and 200 releases installed by `terraform apply` in one namespace each, prints:
//! (a) ReadResource over gRPC (plaintext go-plugin mode, 10 in flight as Terraform sends them)
//!     for all releases: time per release and API requests per release (from the test server's
//!     request log), vs the helm loop; with `GITLABRUNNER_BASELINE_PROVIDER_BIN` set, the same
//!     for that provider build (e.g. the one before shared reads), and the ratio;
//!     the CPU time the provider and the API test server spent, and the provider's peak
//!     resident memory (`VmHWM`) before and after the reads;
//! (b) wall time of `terraform plan` over the releases;
//! (c) (a) again with 5 ms added to every API answer (fault injection), as from an API server
//!     across a network — where requests, not decoding, dominate;
//! (d) the floor of (a): the same ReadResource calls for releases that are not there (state
//!     pointing at an empty namespace): gRPC, msgpack, the state decoded into the model, one
//!     shared LIST answered empty, the state removed — all of a read but the release itself.
//!     The in-process API test server and this harness's gRPC client share the machine's cores
//!     with the provider, so they are part of every figure.
//! Each figure of (a), (c) and (d) is the median of ROUNDS rounds (after one warm-up run); in a
//! round every variant runs once, in turn, so load from elsewhere on the machine (it is shared)
//! hits all of them alike. Each run is a fresh provider process, as in a `terraform plan`.
//! A baseline older than this build is sent the state without the top-level attributes its
//! schema does not declare (from its GetProviderSchema), as it would read its own state.
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
/// Rounds of every variant; each figure is the median.
const ROUNDS: usize = 5;

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
    elsewhere: Option<&str>,
) -> Reads {
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

    let release_type = as_provider_knows_it(
        gitlabrunner::resources::release::schema::schema().value_type(),
        &mut client,
    )
    .await;
    let state = dir.state();
    let instances = state["resources"][0]["instances"]
        .as_array()
        .unwrap()
        .clone();
    let requests: Vec<pb::read_resource::Request> = instances
        .iter()
        .map(|instance| {
            let mut attributes = instance["attributes"].clone();
            if let Some(namespace) = elsewhere {
                attributes["namespace"] = serde_json::json!(namespace);
            }
            let (value, _) =
                tfjson::decode(&release_type, &attributes, tfjson::UnknownAttributes::Drop)
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
    let read_releases = elsewhere.is_none();
    let provider_pid = plugin.child.id();
    let provider_cpu = cpu_ns(provider_pid, None);
    let peak_before_kib = peak_memory_kib(provider_pid);
    let server_cpu = cpu_ns(std::process::id(), Some(SERVER_THREADS));
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
                let state = response.new_state.expect("a new state");
                if read_releases {
                    // A release that is there comes back as an object; one that is not, as null.
                    assert!(state.msgpack.len() > 1, "the release was read");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    Reads {
        took: began.elapsed(),
        provider_cpu_ns: cpu_ns(provider_pid, None).saturating_sub(provider_cpu),
        server_cpu_ns: cpu_ns(std::process::id(), Some(SERVER_THREADS)).saturating_sub(server_cpu),
        peak_before_kib,
        peak_kib: peak_memory_kib(provider_pid),
    }
}

/// The most resident memory (KiB) process `pid` has used so far (`VmHWM` of
/// `/proc/<pid>/status`); 0 where /proc is missing.
fn peak_memory_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The names of the in-process Kubernetes API test server's threads (as `/proc` shows them).
const SERVER_THREADS: &str = "kube-test-serve";

/// Wall time of the reads, and the CPU time the provider process and the API test server
/// spent meanwhile, and the provider's peak memory before and after the reads.
struct Reads {
    took: Duration,
    provider_cpu_ns: u64,
    server_cpu_ns: u64,
    peak_before_kib: u64,
    peak_kib: u64,
}

/// CPU time (ns) the threads of process `pid` have run, from `/proc/<pid>/task/*/schedstat`
/// (only threads whose name starts with `threads`, when given). 0 where /proc is missing.
fn cpu_ns(pid: u32, threads: Option<&str>) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            threads.is_none_or(|prefix| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.starts_with(prefix))
            })
        })
        .filter_map(|task| {
            std::fs::read_to_string(task.path().join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The release's state type restricted to the top-level attributes and blocks `client`'s
/// provider declares: a baseline build older than this one reads the state without the
/// attributes added since (as it would read its own state), not an error.
async fn as_provider_knows_it(
    ty: tfplugin::Type,
    client: &mut ProviderClient<tonic::transport::Channel>,
) -> tfplugin::Type {
    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request::default())
        .await
        .unwrap()
        .into_inner();
    let block = schema.resource_schemas["gitlabrunner_release"]
        .block
        .clone()
        .unwrap();
    let known: std::collections::BTreeSet<String> = block
        .attributes
        .iter()
        .map(|a| a.name.clone())
        .chain(block.block_types.iter().map(|b| b.type_name.clone()))
        .collect();
    match ty {
        tfplugin::Type::Object {
            attributes,
            optional,
        } => tfplugin::Type::Object {
            attributes: attributes
                .into_iter()
                .filter(|(name, _)| known.contains(name))
                .collect(),
            optional,
        },
        other => other,
    }
}

/// Each figure's median over the rounds, `None` when any round failed.
fn median(rounds: Vec<Option<Refresh>>) -> Option<Refresh> {
    let rounds: Vec<Refresh> = rounds.into_iter().collect::<Option<_>>()?;
    let of = |field: fn(&Refresh) -> f64| {
        let mut values: Vec<f64> = rounds.iter().map(field).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    (!rounds.is_empty()).then(|| Refresh {
        per_release_ms: of(|r| r.per_release_ms),
        requests_per_release: of(|r| r.requests_per_release),
        provider_cpu_ms: of(|r| r.provider_cpu_ms),
        server_cpu_ms: of(|r| r.server_cpu_ms),
        peak_before_mib: of(|r| r.peak_before_mib),
        peak_mib: of(|r| r.peak_mib),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Time and provider requests (not helm's) of one refresh of every release.
struct Refresh {
    per_release_ms: f64,
    requests_per_release: f64,
    /// CPU time of the provider process per release (robust to load from elsewhere).
    provider_cpu_ms: f64,
    /// CPU time of the in-process API test server per release (its controllers included).
    server_cpu_ms: f64,
    /// The provider's peak resident memory before the reads (start-up, schema, configure).
    peak_before_mib: f64,
    /// The provider's peak resident memory once the reads are done.
    peak_mib: f64,
}

fn refresh(
    runtime: &tokio::runtime::Runtime,
    world: &KubeWorld,
    dir: &TerraformWorkdir,
    provider: &Path,
    releases: usize,
    latency_ms: Option<u64>,
    elsewhere: Option<&str>,
) -> Refresh {
    let admin = world
        .admin()
        .expect("benchmarks run against the API test server");
    let helm = &world.tools().helm4;
    admin.clear_requests().unwrap();
    if let Some(ms) = latency_ms {
        admin
            .inject_fault(&Fault {
                user_agent: None,
                method: Some("GET".into()),
                path: "*".into(),
                count: 1_000_000,
                action: FaultAction::Latency { ms },
            })
            .unwrap();
    }
    let reads = runtime.block_on(read_all_over_grpc(
        world, helm, dir, provider, 10, elsewhere,
    ));
    admin.clear_faults().unwrap();
    let requests = admin
        .requests()
        .unwrap()
        .iter()
        .filter(|r| !r.user_agent.starts_with("Helm"))
        .count();
    Refresh {
        per_release_ms: ms(reads.took) / releases as f64,
        provider_cpu_ms: reads.provider_cpu_ns as f64 / 1e6 / releases as f64,
        server_cpu_ms: reads.server_cpu_ns as f64 / 1e6 / releases as f64,
        requests_per_release: requests as f64 / releases as f64,
        peak_before_mib: reads.peak_before_kib as f64 / 1024.0,
        peak_mib: reads.peak_kib as f64 / 1024.0,
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
        let empty_namespace = world.create_namespace("bench-empty");
        // The token Secret the releases mount: without it every manager pod would wait in
        // ContainerCreating, the test server's kubelet retrying its FailedMount (CPU in (a)-(d)).
        let token_secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "runner-token", "namespace": namespace},
            "stringData": {"runner-token": "glrt-bench", "runner-registration-token": ""},
        });
        let out = world.kubectl_stdin(&["create", "-f", "-"], &token_secret.to_string());
        assert!(out.status.success(), "kubectl create token Secret: {out:?}");
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
        // Let the cluster settle first: right after the apply the API server's controllers (on a
        // real cluster, the kubelets) are still rolling out every release, work that would land
        // in the first rounds' figures and swing them from run to run.
        let settled = world.kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment",
            "--all",
            "-n",
            &namespace,
            "--timeout=300s",
        ]);
        assert!(
            settled.status.success(),
            "the releases' Deployments did not become available: {}",
            String::from_utf8_lossy(&settled.stderr)
        );

        // One refresh of every release by `provider`; a baseline that cannot read this state
        // (another schema) is reported, not fatal.
        let run = |provider: &Path, latency_ms: Option<u64>, elsewhere: Option<&str>| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                refresh(
                    &runtime, &world, &dir, provider, releases, latency_ms, elsewhere,
                )
            }))
            .map_err(|_| eprintln!("{} failed to refresh; see above", provider.display()))
            .ok()
        };
        // Warm-up (page cache, the test server's allocations), then ROUNDS rounds in which
        // every variant runs once, in turn, so a load from elsewhere on the machine hits all
        // of them alike; each figure is the median of its rounds.
        let _warm = run(&tools.provider, None, None);
        let mut rounds: [Vec<Option<Refresh>>; 5] = Default::default();
        for _ in 0..ROUNDS {
            // (a) this build and the baseline.
            rounds[0].push(run(&tools.provider, None, None));
            rounds[1].push(baseline.as_deref().and_then(|b| run(b, None, None)));
            // (c) The same with API_LATENCY_MS added to every API answer, as from an API
            // server across a network (the test server answers in well under a millisecond).
            rounds[2].push(run(&tools.provider, Some(API_LATENCY_MS), None));
            rounds[3].push(
                baseline
                    .as_deref()
                    .and_then(|b| run(b, Some(API_LATENCY_MS), None)),
            );
            // (d) The floor: the same ReadResource calls for releases that are not there
            // (their state points at an empty namespace): gRPC, state decode, one shared LIST
            // answered empty, the state removed — everything but reading a release.
            rounds[4].push(run(&tools.provider, None, Some(&empty_namespace)));
        }
        let [new, old, remote_new, remote_old, floor] = rounds.map(median);
        let new = new.expect("this build refreshes");
        let remote_new = remote_new.expect("this build refreshes");
        let floor = floor.expect("this build refreshes");
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
        let cpu = |r: &Refresh| {
            format!(
                "provider {:.2} + API test server {:.2} ms",
                r.provider_cpu_ms, r.server_cpu_ms
            )
        };
        let memory = |r: &Refresh| {
            format!(
                "{:.1} MiB ({:.1} before the reads)",
                r.peak_mib, r.peak_before_mib
            )
        };
        println!(
            "{releases:>3} releases | (a) provider peak memory: this build {}{}; floor (d) {}",
            memory(&new),
            old.as_ref()
                .map(|old| format!("; baseline {}", memory(old)))
                .unwrap_or_default(),
            memory(&floor),
        );
        println!(
            "{releases:>3} releases | (a) CPU per release: this build {}{}; floor (d) {}",
            cpu(&new),
            old.as_ref()
                .map(|old| format!(
                    "; baseline {} (provider CPU {:.1}x lower)",
                    cpu(old),
                    old.provider_cpu_ms / new.provider_cpu_ms
                ))
                .unwrap_or_default(),
            cpu(&floor),
        );
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
            "{releases:>3} releases | (d) floor, ReadResource of a release that is not there: {:.2} ms/release{}",
            floor.per_release_ms,
            old.as_ref()
                .map(|old| format!(
                    " (a 3x target needs {:.2}; the floor is {:.1}x below the baseline)",
                    old.per_release_ms / TARGET_SPEEDUP,
                    old.per_release_ms / floor.per_release_ms
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
