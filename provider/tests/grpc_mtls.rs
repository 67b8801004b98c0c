//! The built binary, started the way go-plugin starts it and dialed with mTLS the way Terraform
//! dials it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{ClientIdentity, Plugin};
use tfplugin::proto::plugin::Empty;
use tfplugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::proto::tfplugin6::provider_client::ProviderClient;
use tfplugin::{Type, Value};

fn provider_type() -> Type {
    gitlabrunner::config::schema().value_type()
}

fn msgpack(value: &Value) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: tfplugin::codec::msgpack::encode(
            &provider_type(),
            &value.clone().conform(&provider_type()).unwrap(),
        )
        .unwrap(),
        json: Vec::new(),
    }
}

#[tokio::test]
async fn terraform_style_client_gets_the_schema_over_mtls_and_shutdown_exits_promptly() {
    let identity = ClientIdentity::generate();
    let mut plugin = Plugin::start(Some(&identity.pem));
    assert!(
        plugin.address.starts_with("127.0.0.1:"),
        "{}",
        plugin.handshake_line
    );
    assert!(
        (10000..=25000).contains(&plugin.port()),
        "{}",
        plugin.handshake_line
    );

    let channel = plugin.connect_tls(&identity).await.expect("mTLS dial");
    let mut client = ProviderClient::new(channel.clone());
    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    assert!(
        schema
            .server_capabilities
            .unwrap()
            .get_provider_schema_optional
    );
    let block = schema.provider.unwrap().block.unwrap();
    let kubernetes = block
        .block_types
        .iter()
        .find(|b| b.type_name == "kubernetes")
        .expect("kubernetes block");
    let attributes: Vec<&str> = kubernetes
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for name in [
        "host",
        "token",
        "client_certificate",
        "client_key",
        "cluster_ca_certificate",
        "insecure",
        "tls_server_name",
        "proxy_url",
        "config_path",
        "config_paths",
        "config_context",
        "config_context_auth_info",
        "config_context_cluster",
    ] {
        assert!(
            attributes.contains(&name),
            "kubernetes.{name} missing: {attributes:?}"
        );
    }
    let token = kubernetes
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "token")
        .unwrap();
    assert!(token.sensitive);

    let shutdown_at = Instant::now();
    let _ = GrpcControllerClient::new(channel).shutdown(Empty {}).await;
    let code = plugin.wait_exit(Duration::from_secs(2));
    assert_eq!(
        code,
        Some(0),
        "the process must exit 0 within 2 s of Shutdown (Terraform kills it after 2 s)"
    );
    assert!(
        shutdown_at.elapsed() < Duration::from_millis(1500),
        "exit took {:?}",
        shutdown_at.elapsed()
    );
}

#[tokio::test]
async fn health_reports_plugin_serving_and_stdio_stream_opens() {
    use tfplugin::proto::plugin::grpc_stdio_client::GrpcStdioClient;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let identity = ClientIdentity::generate();
    let plugin = Plugin::start(Some(&identity.pem));
    let channel = plugin.connect_tls(&identity).await.unwrap();
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .expect("grpc.health.v1 Check")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);
    GrpcStdioClient::new(channel)
        .stream_stdio(())
        .await
        .expect("plugin.GRPCStdio/StreamStdio opens");
}

#[tokio::test]
async fn a_different_client_certificate_is_refused() {
    let announced = ClientIdentity::generate();
    let stranger = ClientIdentity::generate();
    let plugin = Plugin::start(Some(&announced.pem));

    let refused = match plugin.connect_tls(&stranger).await {
        Err(_) => true,
        Ok(channel) => ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client with another certificate must not get an answer"
    );

    // The announced client still gets in afterwards.
    let channel = plugin.connect_tls(&announced).await.expect("mTLS dial");
    ProviderClient::new(channel)
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata with the announced certificate");
    let stderr = plugin.finish();
    assert!(
        stderr.contains("TLS handshake refused"),
        "refusal should be logged: {stderr}"
    );
}

#[tokio::test]
async fn every_rpc_works_without_a_prior_get_provider_schema() {
    let identity = ClientIdentity::generate();
    let plugin = Plugin::start(Some(&identity.pem));
    let mut client = ProviderClient::new(plugin.connect_tls(&identity).await.unwrap());

    // A host that is unknown at plan time (a cluster created in the same apply) is fine.
    let config = Value::object([(
        "kubernetes",
        Value::List(vec![Value::object([
            ("host", Value::Unknown),
            ("token", Value::Unknown),
        ])]),
    )]);
    let validated = client
        .validate_provider_config(pb::validate_provider_config::Request {
            config: Some(msgpack(&config)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        validated.diagnostics.is_empty(),
        "{:?}",
        validated.diagnostics
    );
    let configured = client
        .configure_provider(pb::configure_provider::Request {
            terraform_version: "1.11.4".into(),
            config: Some(msgpack(&config)),
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

    let functions = client
        .get_functions(pb::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(functions.diagnostics.is_empty());

    let unknown = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "gitlabrunner_nope".into(),
            config: None,
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown.diagnostics.len(), 1);
    assert!(
        unknown.diagnostics[0]
            .summary
            .contains("Unknown Resource Type")
    );

    let ephemeral = client
        .open_ephemeral_resource(pb::open_ephemeral_resource::Request {
            type_name: "gitlabrunner_token".into(),
            config: None,
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        ephemeral.diagnostics[0]
            .summary
            .contains("Unknown Ephemeral Resource Type")
    );

    let identity_schemas = client
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(identity_schemas.diagnostics.is_empty());

    let stop = client
        .stop_provider(pb::stop_provider::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stop.error, "");
}

#[tokio::test]
async fn without_a_client_certificate_the_plugin_serves_plaintext() {
    let plugin = Plugin::start(None);
    assert!(
        plugin.server_certificate.is_none(),
        "{}",
        plugin.handshake_line
    );
    assert!(plugin.handshake_line.ends_with("|grpc|"));
    let mut client = ProviderClient::new(plugin.connect_plain().await.unwrap());
    client
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("plaintext GetMetadata");
}

#[test]
fn run_by_hand_it_says_it_is_a_plugin_and_exits_1() {
    let out = Command::new(common::binary())
        .env_remove(common::COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("This binary is a plugin"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout (go-plugin would read it as a handshake)"
    );
}

#[test]
fn version_flag_prints_the_crate_version() {
    let out = Command::new(common::binary())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigint_does_not_kill_the_plugin() {
    let identity = ClientIdentity::generate();
    let mut plugin = Plugin::start(Some(&identity.pem));
    let status = Command::new("kill")
        .args(["-INT", &plugin.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        plugin.wait_exit(Duration::from_millis(300)),
        None,
        "SIGINT must be ignored"
    );
}

#[tokio::test]
async fn debug_mode_serves_plaintext_and_prints_tf_reattach_providers() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(common::binary())
        .arg("--debug")
        .env_remove(common::COOKIE_KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("TF_REATTACH_PROVIDERS=") {
                let _ = tx.send(line);
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("TF_REATTACH_PROVIDERS line");
    let json = line.split('\'').nth(1).expect("quoted JSON");
    let reattach: serde_json::Value = serde_json::from_str(json).unwrap();
    let entry = &reattach[gitlabrunner::PROVIDER_ADDRESS];
    assert_eq!(
        entry["Test"], true,
        "Terraform 1.11 crashes without \"Test\": true"
    );
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Pid"], child.id());
    let address = entry["Addr"]["String"].as_str().unwrap().to_owned();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ProviderClient::new(channel)
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("plaintext GetMetadata in debug mode");
    let _ = child.kill();
    let _ = child.wait();
}
