//! Refresh cost of `gitlabrunner_release` against the Kubernetes API test server, compared with
//! what users run by hand per release (`helm get values` + `helm get manifest`).
//!
//! Prints, for 50 releases installed by `terraform apply`:
//! (a) ReadResource over gRPC (plaintext go-plugin mode) for all 50, vs the helm loop (target ≥ 20×);
//! (b) wall time of `terraform plan` over the 50, vs the same helm loop;
//! (c) API requests per release refresh, from the test server's request log.
//!
//! Run: `cargo build --release -p terraform-provider-gitlabrunner && cargo bench -p acceptance
//! --bench release_read` (the harness uses the provider build beside this executable, i.e. the
//! release one; set GITLABRUNNER_PROVIDER_BIN to use another).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acceptance::tools::workspace_root;
use acceptance::{KubeWorld, TerraformWorkdir};
use tfplugin::codec::{json as tfjson, msgpack};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::proto::tfplugin6::provider_client::ProviderClient;

const RELEASES: usize = 50;
const TARGET_RATIO: f64 = 20.0;

fn config(world: &KubeWorld, helm: &Path, namespace: &str) -> String {
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
  count             = {RELEASES}
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

fn helm_loop(world: &KubeWorld, helm: &Path, namespace: &str) -> Duration {
    let home = tempfile::tempdir().unwrap();
    let began = Instant::now();
    for i in 0..RELEASES {
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
    assert_eq!(instances.len(), RELEASES);
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

fn main() {
    let world = KubeWorld::start();
    let tools = world.tools().clone();
    let namespace = world.create_namespace("bench");
    let mut dir = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    dir.set_env("TF_LOG", "");
    dir.set_timeout(Duration::from_secs(1800));
    dir.write("main.tf", &config(&world, &tools.helm4, &namespace));
    eprintln!("installing {RELEASES} releases with terraform apply…");
    dir.run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=4",
    ])
    .success();

    let admin = world
        .admin()
        .expect("benchmarks run against the API test server");
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // (a) ReadResource over gRPC vs the helm loop.
    let _warm = runtime.block_on(read_all_over_grpc(
        &world,
        &tools.helm4,
        &dir,
        &tools.provider,
        1,
    ));
    admin.clear_requests().unwrap();
    let sequential = runtime.block_on(read_all_over_grpc(
        &world,
        &tools.helm4,
        &dir,
        &tools.provider,
        1,
    ));
    let log = admin.requests().unwrap();
    let grpc = runtime.block_on(read_all_over_grpc(
        &world,
        &tools.helm4,
        &dir,
        &tools.provider,
        10,
    ));
    let helm = helm_loop(&world, &tools.helm4, &namespace);

    // (b) terraform plan over the 50 releases.
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

    // (c) requests per release refresh (the provider's own requests only).
    let provider_requests = log
        .iter()
        .filter(|r| !r.user_agent.starts_with("Helm"))
        .count();

    let ratio_a = helm.as_secs_f64() / grpc.as_secs_f64();
    let ratio_sequential = helm.as_secs_f64() / sequential.as_secs_f64();
    let ratio_b = helm.as_secs_f64() / plan_time.as_secs_f64();
    println!("gitlabrunner_release refresh, {RELEASES} releases, Kubernetes API test server");
    println!(
        "(a) ReadResource over gRPC, 10 in flight as Terraform sends them: {:.1} ms total ({:.1} ms one after the other, {ratio_sequential:.1}x) | helm get values + manifest: {:.1} ms total, {:.1} ms/release | {ratio_a:.1}x faster (target >= {TARGET_RATIO}x: {})",
        ms(grpc),
        ms(sequential),
        ms(helm),
        ms(helm) / RELEASES as f64,
        if ratio_a >= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "(b) terraform plan (refresh of {RELEASES}): {:.1} ms | helm loop: {:.1} ms | {ratio_b:.1}x",
        ms(plan_time),
        ms(helm)
    );
    println!(
        "(c) API requests per release refresh: {:.2} ({provider_requests} requests for {RELEASES} releases: 1 release-Secret list + 1 GET per manifest object)",
        provider_requests as f64 / RELEASES as f64
    );
    dir.run(&[
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=10",
    ])
    .success();
}
