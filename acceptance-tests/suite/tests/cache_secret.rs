//! `gitlabrunner_cache_secret` end to end: real terraform against the Kubernetes API test server
//! (or a real cluster with GITLABRUNNER_TEST_REAL_CLUSTER=1): each backend's Secret written
//! under chart 0.86.0's key names with no credential in state, plan or the TF_LOG=trace log; a
//! rotation rewrites the Secret; a key changed or deleted by hand is drift and repaired; import
//! and ownership; plan-time errors at their attribute; and, with real helm, a rotated cache key
//! or a renewed certificate rolls the runner manager (new ReplicaSet, pod annotation changed).

mod release_support;
mod secret_support;

use acceptance::KubeWorld;
use secret_support::{
    assert_fails_with, attr, b64, certificate, diagnostics_only, ok, secret_data, workdir,
};
use serde_json::{Value, json};

const S3_ACCESS: &str = "AKIACACHEACCESS0001";
const S3_SECRET: &str = "cache-secret-key-value-0001";
const GCS_EMAIL: &str = "runner-cache@project.iam.gserviceaccount.com";
const GCS_PRIVATE_KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIcacheprivatekeybody0001\n-----END PRIVATE KEY-----\n";
const AZURE_NAME: &str = "cacheaccountname0001";
const AZURE_KEY: &str = "azure-account-key-value-0001==";

/// A service account key file as Google issues it (the fields the runner reads).
fn service_account_json() -> String {
    json!({
        "type": "service_account",
        "project_id": "project",
        "private_key_id": "0123456789abcdef",
        "private_key": GCS_PRIVATE_KEY,
        "client_email": GCS_EMAIL,
    })
    .to_string()
}

/// HCL for a string (JSON string escaping is valid HCL for these values).
fn hcl(value: &str) -> String {
    serde_json::to_string(value).expect("string")
}

fn cache_secret(label: &str, namespace: &str, name: &str, body: &str) -> String {
    format!(
        r#"
resource "gitlabrunner_cache_secret" "{label}" {{
  namespace = "{namespace}"
  name      = "{name}"
{body}
}}
"#
    )
}

fn s3_body(secret_key: &str, version: u32) -> String {
    format!(
        "  backend                = \"s3\"\n  s3_access_key_wo       = {}\n  s3_secret_key_wo       = {}\n  credentials_wo_version = {version}",
        hcl(S3_ACCESS),
        hcl(secret_key)
    )
}

/// Every credential value the tests write: none may reach state, plan or logs.
fn credentials() -> Vec<String> {
    vec![
        S3_ACCESS.to_owned(),
        S3_SECRET.to_owned(),
        "MIIcacheprivatekeybody0001".to_owned(),
        AZURE_NAME.to_owned(),
        AZURE_KEY.to_owned(),
        "cache-secret-key-value-0002".to_owned(),
    ]
}

#[test]
fn each_backend_writes_the_chart_keys_and_no_credential_reaches_state_plan_or_logs() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("cache");
    let mut dir = workdir(&world);
    dir.set_env("TF_LOG", "trace");
    let gcs_json = format!(
        "  backend                 = \"gcs\"\n  gcs_credentials_json_wo = {}\n  credentials_wo_version  = 1",
        hcl(&service_account_json())
    );
    let gcs_keys = format!(
        "  backend            = \"gcs\"\n  gcs_access_id_wo   = {}\n  gcs_private_key_wo = {}",
        hcl(GCS_EMAIL),
        hcl(GCS_PRIVATE_KEY)
    );
    let azure = format!(
        "  backend               = \"azure\"\n  azure_account_name_wo = {}\n  azure_account_key_wo  = {}",
        hcl(AZURE_NAME),
        hcl(AZURE_KEY)
    );
    let config = |s3_secret: &str, version: u32| {
        [
            cache_secret("s3", &ns, "cache-s3", &s3_body(s3_secret, version)),
            cache_secret("gcs_json", &ns, "cache-gcs-json", &gcs_json),
            cache_secret("gcs_keys", &ns, "cache-gcs-keys", &gcs_keys),
            cache_secret("azure", &ns, "cache-azure", &azure),
        ]
        .concat()
    };
    dir.write("main.tf", &config(S3_SECRET, 1));
    let plan = dir.plan();
    plan.expect_code(2);
    let apply = dir.apply();
    apply.success();

    let expected: [(&str, Vec<(&str, String)>); 4] = [
        (
            "cache-s3",
            vec![
                ("accesskey", S3_ACCESS.to_owned()),
                ("secretkey", S3_SECRET.to_owned()),
            ],
        ),
        (
            "cache-gcs-json",
            vec![("gcs-application-credentials-file", service_account_json())],
        ),
        (
            "cache-gcs-keys",
            vec![
                ("gcs-access-id", GCS_EMAIL.to_owned()),
                ("gcs-private-key", GCS_PRIVATE_KEY.to_owned()),
            ],
        ),
        (
            "cache-azure",
            vec![
                ("azure-account-name", AZURE_NAME.to_owned()),
                ("azure-account-key", AZURE_KEY.to_owned()),
            ],
        ),
    ];
    for (name, keys) in &expected {
        let data = secret_data(&world, &ns, name).expect("Secret created");
        let wanted: std::collections::BTreeMap<String, String> = keys
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        assert_eq!(data, wanted, "{name} holds exactly the chart's keys");
    }
    let digests = attr(&dir, "gitlabrunner_cache_secret.s3", "key_digests");
    assert!(
        digests["secretkey"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{digests}"
    );
    let first_digest = attr(&dir, "gitlabrunner_cache_secret.s3", "credentials_digest");
    dir.plan().expect_code(0);

    // Rotation: a new key and version rewrite the Secret; the plan names the key only.
    dir.write("main.tf", &config("cache-secret-key-value-0002", 2));
    let rotate_plan = dir.plan();
    rotate_plan.expect_code(2);
    assert!(
        rotate_plan.stdout.contains("\"secretkey\""),
        "{rotate_plan:?}"
    );
    let rotate = dir.apply();
    rotate.success();
    assert_eq!(
        secret_data(&world, &ns, "cache-s3").expect("Secret")["secretkey"],
        "cache-secret-key-value-0002"
    );
    assert_ne!(
        attr(&dir, "gitlabrunner_cache_secret.s3", "credentials_digest"),
        first_digest
    );
    assert_eq!(
        attr(
            &dir,
            "gitlabrunner_cache_secret.s3",
            "credentials_wo_version"
        ),
        json!(2)
    );
    dir.plan().expect_code(0);

    let state = dir.state_raw();
    let log = dir.log();
    assert!(log.contains("gitlabrunner"), "the trace log was written");
    for secret in credentials() {
        assert!(!state.contains(&secret), "a credential in state:\n{state}");
        assert!(
            !log.contains(&secret),
            "a credential in the TF_LOG=trace log"
        );
        for run in [&plan, &apply, &rotate_plan, &rotate] {
            assert!(!run.output().contains(&secret), "a credential in {run:?}");
        }
    }
}

#[test]
fn a_key_changed_or_deleted_by_hand_is_drift_and_repaired() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("cachedrift");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &cache_secret("s3", &ns, "cache", &s3_body(S3_SECRET, 1)),
    );
    dir.apply().success();
    dir.plan().expect_code(0);

    world.edit_by_hand(
        "secret",
        &ns,
        "cache",
        &json!({"data": {"secretkey": null, "accesskey": b64("AKIAEDITEDBYHAND"), "extra": b64("x")}}),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    for key in ["\"secretkey\"", "\"accesskey\"", "\"extra\""] {
        assert!(plan.stdout.contains(key), "the plan names {key}: {plan:?}");
    }
    assert!(
        !plan.output().contains("AKIAEDITEDBYHAND") && !plan.output().contains(S3_SECRET),
        "{plan:?}"
    );
    dir.apply().success();
    let data = secret_data(&world, &ns, "cache").expect("Secret");
    assert_eq!(data.get("accesskey").map(String::as_str), Some(S3_ACCESS));
    assert_eq!(data.get("secretkey").map(String::as_str), Some(S3_SECRET));
    assert!(!data.contains_key("extra"), "{data:?}");
    dir.plan().expect_code(0);

    // A deleted Secret is planned for creation.
    ok(
        &world.kubectl(&["delete", "secret", "cache", "-n", &ns]),
        "kubectl delete",
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("will be created"), "{plan:?}");
    dir.apply().success();
    dir.plan().expect_code(0);
}

#[test]
fn an_existing_secret_is_refused_until_imported() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("cacheimp");
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            "existing",
            "-n",
            &ns,
            &format!("--from-literal=accesskey={S3_ACCESS}"),
            &format!("--from-literal=secretkey={S3_SECRET}"),
        ]),
        "kubectl create secret",
    );
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &cache_secret("s3", &ns, "existing", &s3_body(S3_SECRET, 1)),
    );
    assert_fails_with(
        &dir.apply(),
        &[
            "Object Already Exists",
            "terraform import gitlabrunner_cache_secret.<resource name>",
        ],
    );
    dir.import("gitlabrunner_cache_secret.s3", &format!("{ns}/existing"))
        .success();
    assert_eq!(
        attr(&dir, "gitlabrunner_cache_secret.s3", "backend"),
        json!("s3")
    );
    assert!(!dir.state_raw().contains(S3_SECRET), "credential in state");
    // The same credentials: only the version enters state with the next apply.
    let plan = dir.plan();
    plan.expect_code(2);
    let output = plan.output();
    let changed: Vec<String> = output
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| {
            (l.starts_with("+ ") || l.starts_with("- ") || l.starts_with("~ ")) && l.contains(" = ")
        })
        .collect();
    assert_eq!(changed, ["+ credentials_wo_version = 1"], "{output}");
    dir.apply().success();
    dir.plan().expect_code(0);
}

#[test]
fn bad_input_is_a_plan_error_at_its_attribute() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("cachebad");
    let dir = workdir(&world);
    let no_private_key = json!({"type": "service_account", "client_email": GCS_EMAIL}).to_string();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!(
                "  backend          = \"s3\"\n  s3_access_key_wo = {}",
                hcl(S3_ACCESS)
            ),
            vec![
                "Missing Cache Credential",
                "s3_secret_key_wo is not set",
                "accesskey and secretkey",
            ],
        ),
        (
            format!(
                "  backend                 = \"gcs\"\n  gcs_credentials_json_wo = {}",
                hcl(&no_private_key)
            ),
            vec![
                "Invalid Service Account Key",
                "gcs_credentials_json_wo must be a Google service account key file",
                "it has no private_key",
                "gcs_credentials_json_wo = ",
            ],
        ),
        (
            format!(
                "  backend               = \"azure\"\n  azure_account_name_wo = {}\n  azure_account_key_wo  = {}\n  s3_secret_key_wo      = {}",
                hcl(AZURE_NAME),
                hcl(AZURE_KEY),
                hcl(S3_SECRET)
            ),
            vec![
                "Credential Of Another Backend",
                "s3_secret_key_wo is a s3 credential",
            ],
        ),
        (
            format!(
                "{}\n  annotations = {{ note = {} }}",
                s3_body(S3_SECRET, 1),
                hcl(S3_SECRET)
            ),
            vec!["Credential In A Stored Attribute", "annotations[\"note\"]"],
        ),
        ("  backend = \"minio\"".to_owned(), vec!["backend", "minio"]),
    ];
    for (body, needles) in cases {
        dir.write("main.tf", &cache_secret("c", &ns, "c", &body));
        let plan = dir.plan();
        assert_fails_with(&plan, &needles);
        let text = diagnostics_only(&plan.output());
        for secret in [S3_SECRET, AZURE_KEY, "MIIcacheprivatekeybody"] {
            assert!(
                !text.contains(secret),
                "a diagnostic shows a credential: {plan:?}"
            );
        }
    }
    assert!(
        world.get_json("secret", &ns, "c").is_none(),
        "nothing was written"
    );
}

// --- rolling the manager ----------------------------------------------------------------------

const RELEASE: &str = "gitlab-runner";

/// A release with token, cert (copied from `source`) and cache Secrets, each digest passed on.
fn rolling_config(
    world: &KubeWorld,
    helm: &std::path::Path,
    ns: &str,
    secret: &str,
    version: u32,
) -> String {
    format!(
        r#"{provider}
resource "gitlabrunner_token_secret" "token" {{
  namespace    = "{ns}"
  name         = "runner-token"
  runner_token = "{token}"
}}

resource "gitlabrunner_cert_secret" "certs" {{
  namespace  = "{ns}"
  name       = "gitlab-certs"
  gitlab_url = "https://gitlab.example.com"
  source_secret {{
    namespace = "{ns}"
    name      = "gitlab-tls"
    key       = "tls.crt"
  }}
}}

{cache}

resource "gitlabrunner_release" "runner" {{
  name      = "{RELEASE}"
  namespace = "{ns}"
  chart     = "{chart}"

  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = gitlabrunner_token_secret.token.name
  token_digest      = gitlabrunner_token_secret.token.token_digest
  cert_secret_name  = gitlabrunner_cert_secret.certs.name
  secret_digests = {{
    certs = gitlabrunner_cert_secret.certs.certs_digest
    cache = gitlabrunner_cache_secret.s3.credentials_digest
  }}
  runner_name = "cache-roll"

  runner {{
    kubernetes {{
      namespace = "{ns}"
      image     = "alpine:3.20"
    }}
    cache {{
      type        = "s3"
      shared      = true
      secret_name = gitlabrunner_cache_secret.s3.name
      s3 {{
        server_address = "s3.amazonaws.com"
        bucket_name    = "runner-cache"
      }}
    }}
  }}

  timeout = 120
}}
"#,
        provider = release_support::provider_block(world, helm),
        token = release_support::RUNNER_TOKEN,
        cache = cache_secret("s3", ns, "runner-cache", &s3_body(secret, version)),
        chart = release_support::chart_path().display(),
    )
}

/// The Deployment's pod-template annotations and the names of its ReplicaSets.
fn manager(world: &KubeWorld, ns: &str) -> (Value, Vec<String>) {
    let deployment = world
        .get_json("deployment", ns, RELEASE)
        .expect("the Deployment exists");
    let annotations = deployment["spec"]["template"]["metadata"]["annotations"].clone();
    let out = world.kubectl(&["get", "replicasets", "-n", ns, "-o", "json"]);
    ok(&out, "kubectl get replicasets");
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|rs| rs["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    (annotations, names)
}

fn put_tls_secret(world: &KubeWorld, ns: &str, pem: &str) {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "gitlab-tls", "namespace": ns},
        "data": {"tls.crt": b64(pem)},
    });
    ok(
        &world.kubectl_stdin(&["apply", "-f", "-"], &secret.to_string()),
        "kubectl apply the source certificate",
    );
}

#[test]
fn a_rotated_cache_key_or_a_renewed_certificate_rolls_the_manager() {
    let world = KubeWorld::start();
    let helm = release_support::helm_bin(&world, release_support::HelmVersion::Four);
    let ns = world.create_namespace("cacheroll");
    put_tls_secret(
        &world,
        &ns,
        &certificate(&["gitlab.example.com"], (2036, 1, 1), true),
    );
    let dir = release_support::workdir(&world);
    dir.write("main.tf", &rolling_config(&world, &helm, &ns, S3_SECRET, 1));
    dir.apply().success();
    let (annotations, first_sets) = manager(&world, &ns);
    let cache_digest = attr(&dir, "gitlabrunner_cache_secret.s3", "credentials_digest");
    let certs_digest = attr(&dir, "gitlabrunner_cert_secret.certs", "certs_digest");
    assert_eq!(annotations["gitlabrunner.io/cache-digest"], cache_digest);
    assert_eq!(annotations["gitlabrunner.io/certs-digest"], certs_digest);
    assert!(annotations["gitlabrunner.io/token-digest"].is_string());
    let values = release_support::helm(
        &world,
        &helm,
        &["get", "values", RELEASE, "-n", &ns, "-o", "json"],
    );
    ok(&values, "helm get values");
    let values: Value = serde_json::from_slice(&values.stdout).expect("JSON");
    assert_eq!(values["runners"]["cache"]["secretName"], "runner-cache");
    dir.plan().expect_code(0);

    // A rotated cache key: the Secret and the manager change in the same apply.
    dir.write(
        "main.tf",
        &rolling_config(&world, &helm, &ns, "cache-secret-key-value-0002", 2),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "the cache Secret and the release: {plan:?}"
    );
    dir.apply().success();
    let (rotated, second_sets) = manager(&world, &ns);
    let new_cache_digest = attr(&dir, "gitlabrunner_cache_secret.s3", "credentials_digest");
    assert_ne!(new_cache_digest, cache_digest);
    assert_eq!(rotated["gitlabrunner.io/cache-digest"], new_cache_digest);
    assert!(
        second_sets.iter().any(|rs| !first_sets.contains(rs)),
        "a new ReplicaSet rolls the manager: {first_sets:?} → {second_sets:?}"
    );
    dir.plan().expect_code(0);

    // The source certificate is renewed (as cert-manager would): the next apply rolls it too.
    put_tls_secret(
        &world,
        &ns,
        &certificate(&["gitlab.example.com"], (2037, 1, 1), true),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "the cert Secret and the release: {plan:?}"
    );
    dir.apply().success();
    let (renewed, third_sets) = manager(&world, &ns);
    let new_certs_digest = attr(&dir, "gitlabrunner_cert_secret.certs", "certs_digest");
    assert_ne!(new_certs_digest, certs_digest);
    assert_eq!(renewed["gitlabrunner.io/certs-digest"], new_certs_digest);
    assert!(
        third_sets.iter().any(|rs| !second_sets.contains(rs)),
        "a new ReplicaSet rolls the manager: {second_sets:?} → {third_sets:?}"
    );
    dir.plan().expect_code(0);
    dir.destroy().success();
}

#[test]
fn with_drain_on_update_a_rotated_cache_key_drains_the_runner_around_the_roll() {
    use gitlab_test_server::{NewRunner, TestServer, TokenSpec};
    const ADMIN_TOKEN: &str = "glpat-cache-roll-admin";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let gitlab = runtime
        .block_on(TestServer::start())
        .expect("GitLab test server");
    let admin = gitlab.admin();
    runtime
        .block_on(admin.add_token(&TokenSpec::admin("root", ADMIN_TOKEN)))
        .expect("admin token");
    let runner = runtime
        .block_on(admin.create_runner(&NewRunner {
            token: Some(release_support::RUNNER_TOKEN.into()),
            ..NewRunner::default()
        }))
        .expect("runner");

    let world = KubeWorld::start();
    let helm = release_support::helm_bin(&world, release_support::HelmVersion::Four);
    let ns = world.create_namespace("cachedrain");
    put_tls_secret(
        &world,
        &ns,
        &certificate(&["gitlab.example.com"], (2036, 1, 1), true),
    );
    let mut dir = release_support::workdir(&world);
    dir.set_env("GITLAB_TOKEN", "");
    dir.set_env("GITLAB_BASE_URL", "");
    let config = |secret: &str, version: u32| {
        rolling_config(&world, &helm, &ns, secret, version)
            .replace(
                "provider \"gitlabrunner\" {\n",
                &format!(
                    "provider \"gitlabrunner\" {{\n  gitlab {{\n    base_url = \"{}\"\n    token    = \"{ADMIN_TOKEN}\"\n  }}\n",
                    gitlab.url()
                ),
            )
            .replace(
                "  gitlab_url        = \"https://gitlab.example.com\"\n",
                &format!(
                    "  gitlab_url        = \"{}\"\n  drain_on_update   = true\n  drain_timeout     = \"1m\"\n  verify_runner     = false\n",
                    gitlab.url()
                ),
            )
            .replace(
                "  gitlab_url = \"https://gitlab.example.com\"\n",
                &format!("  gitlab_url = \"{}\"\n", gitlab.url()),
            )
    };
    dir.write("main.tf", &config(S3_SECRET, 1));
    dir.apply().success();
    let (_, first_sets) = manager(&world, &ns);
    runtime
        .block_on(admin.clear_requests())
        .expect("clear the request log");

    dir.write("main.tf", &config("cache-secret-key-value-0002", 2));
    dir.apply().success();
    let (_, second_sets) = manager(&world, &ns);
    assert!(
        second_sets.iter().any(|rs| !first_sets.contains(rs)),
        "the rotated key rolled the manager: {first_sets:?} → {second_sets:?}"
    );
    let requests = runtime.block_on(admin.requests()).expect("request log");
    let runner_path = format!("/api/v4/runners/{}", runner.id);
    let pauses: Vec<String> = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path == runner_path)
        .map(|r| r.body.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        pauses.len(),
        2,
        "the runner is paused before the roll and resumed after it: {requests:?}"
    );
    assert!(
        pauses[0].contains("true") && pauses[1].contains("false"),
        "{pauses:?}"
    );
    let record = runtime
        .block_on(admin.runner(runner.id))
        .expect("runner read")
        .expect("runner exists");
    assert!(!record.paused, "the runner takes jobs again");
}
