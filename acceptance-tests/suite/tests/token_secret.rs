//! `gitlabrunner_token_secret` end to end: real terraform against the Kubernetes API test
//! server (or a real cluster with GITLABRUNNER_TEST_REAL_CLUSTER=1): create, no-op plan,
//! update, replace on rename, drift made out of band and repaired, write-only token never in
//! state or logs, import, ownership, plan-time diagnostics, 403 / missing namespace, retries.

mod secret_support;

use std::collections::BTreeMap;

use acceptance::KubeWorld;
use kube_test_server::{Fault, FaultAction};
use secret_support::{
    assert_fails_with, attr, b64, diagnostics_only, ok, secret_data, secret_labels, unwrap_lines,
    workdir,
};
use serde_json::json;

const ADDRESS: &str = "gitlabrunner_token_secret.token";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

fn config(namespace: &str, name: &str, token_line: &str, labels: &str) -> String {
    format!(
        r#"
resource "gitlabrunner_token_secret" "token" {{
  namespace = "{namespace}"
  name      = "{name}"
  labels    = {labels}
  {token_line}
}}
"#
    )
}

fn runner_token(token: &str) -> String {
    format!("runner_token = \"{token}\"")
}

#[test]
fn create_plan_update_rename_and_destroy() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("tok");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &config(
            &ns,
            "runner-token",
            &runner_token("glrt-first-token"),
            r#"{ team = "ci" }"#,
        ),
    );
    dir.apply().success();

    let data = secret_data(&world, &ns, "runner-token").expect("Secret created");
    assert_eq!(data["runner-token"], "glrt-first-token");
    assert_eq!(
        data["runner-registration-token"], "",
        "both chart keys are written"
    );
    let labels = secret_labels(&world, &ns, "runner-token");
    assert_eq!(labels[MANAGED_BY], "terraform-provider-gitlabrunner");
    assert_eq!(labels["team"], "ci");
    let secret = world
        .get_json("secret", &ns, "runner-token")
        .expect("Secret");
    let with_fields = world.kubectl(&[
        "get",
        "secret",
        "runner-token",
        "-n",
        &ns,
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    ok(&with_fields, "kubectl get --show-managed-fields");
    let with_fields: serde_json::Value = serde_json::from_slice(&with_fields.stdout).expect("JSON");
    let managers: Vec<&str> = with_fields["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["manager"].as_str()).collect())
        .unwrap_or_default();
    if !world.is_real_cluster() {
        assert_eq!(
            managers,
            vec!["gitlabrunner"],
            "written by server-side apply as gitlabrunner"
        );
    }
    assert_eq!(
        attr(&dir, ADDRESS, "id"),
        json!(format!("{ns}/runner-token"))
    );
    assert_eq!(attr(&dir, ADDRESS, "uid"), secret["metadata"]["uid"]);
    let digests = attr(&dir, ADDRESS, "key_digests");
    assert!(
        digests["runner-token"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{digests}"
    );
    let first_digest = attr(&dir, ADDRESS, "token_digest");

    dir.plan().expect_code(0);

    // Update in place: new token and labels.
    dir.write(
        "main.tf",
        &config(
            &ns,
            "runner-token",
            &runner_token("glrt-second-token"),
            r#"{ team = "platform" }"#,
        ),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("update in-place"), "{plan:?}");
    assert!(
        plan.stdout.contains("\"runner-token\""),
        "the plan names the changed key: {plan:?}"
    );
    assert!(
        !plan.output().contains("glrt-second-token"),
        "the plan shows no token: {plan:?}"
    );
    let uid = attr(&dir, ADDRESS, "uid");
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "runner-token").expect("Secret")["runner-token"],
        "glrt-second-token"
    );
    assert_eq!(
        secret_labels(&world, &ns, "runner-token")["team"],
        "platform"
    );
    assert_eq!(attr(&dir, ADDRESS, "uid"), uid, "updated in place");
    assert_ne!(attr(&dir, ADDRESS, "token_digest"), first_digest);
    dir.plan().expect_code(0);

    // Rename: replace.
    dir.write(
        "main.tf",
        &config(
            &ns,
            "runner-token-2",
            &runner_token("glrt-second-token"),
            r#"{ team = "platform" }"#,
        ),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("must be replaced"), "{plan:?}");
    dir.apply().success();
    assert!(
        secret_data(&world, &ns, "runner-token").is_none(),
        "the old Secret is deleted"
    );
    assert!(
        secret_data(&world, &ns, "runner-token-2").is_some(),
        "the new Secret exists"
    );
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(
        secret_data(&world, &ns, "runner-token-2").is_none(),
        "destroy deletes the Secret"
    );
}

#[test]
fn drift_made_outside_terraform_is_planned_and_repaired() {
    let world = KubeWorld::start();

    let ns = world.create_namespace("tokdrift");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &config(
            &ns,
            "tok",
            &runner_token("glrt-drift-token"),
            r#"{ team = "ci" }"#,
        ),
    );
    dir.apply().success();
    dir.plan().expect_code(0);

    // Deleted → re-created.
    ok(
        &world.kubectl(&["delete", "secret", "tok", "-n", &ns]),
        "kubectl delete",
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("will be created"), "{plan:?}");
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "tok").expect("re-created")["runner-token"],
        "glrt-drift-token"
    );
    dir.plan().expect_code(0);

    // Data edited → an update that names the key, without values.
    world.edit_by_hand(
        "secret",
        &ns,
        "tok",
        &json!({"data": {"runner-token": b64("glrt-edited-by-hand"), "extra": b64("x")}}),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("\"runner-token\""), "{plan:?}");
    assert!(
        plan.stdout.contains("\"extra\""),
        "an added key shows too: {plan:?}"
    );
    assert!(
        !plan.output().contains("glrt-edited-by-hand")
            && !plan.output().contains("glrt-drift-token"),
        "{plan:?}"
    );
    dir.apply().success();
    let data = secret_data(&world, &ns, "tok").expect("Secret");
    assert_eq!(data["runner-token"], "glrt-drift-token");
    assert!(
        !data.contains_key("extra"),
        "keys added by hand are removed: {data:?}"
    );
    dir.plan().expect_code(0);

    // Labels edited (changed, added, ours removed) → update that restores them.
    world.edit_by_hand(
        "secret",
        &ns,
        "tok",
        &json!({"metadata": {"labels": {"team": "hacked", "foreign": "yes"}}}),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("\"hacked\"") && plan.stdout.contains("\"foreign\""),
        "{plan:?}"
    );
    dir.apply().success();
    let labels = secret_labels(&world, &ns, "tok");
    assert_eq!(labels.get("team").map(String::as_str), Some("ci"));
    assert!(!labels.contains_key("foreign"), "{labels:?}");
    assert_eq!(labels[MANAGED_BY], "terraform-provider-gitlabrunner");
    dir.plan().expect_code(0);
}

#[test]
fn the_write_only_token_never_reaches_state_plan_or_logs() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("tokwo");
    let mut dir = workdir(&world);
    dir.set_env("TF_LOG", "trace");
    let wo = |token: &str, version: u32| {
        format!("runner_token_wo = \"{token}\"\n  runner_token_wo_version = {version}")
    };
    dir.write(
        "main.tf",
        &config(&ns, "wo", &wo("glrt-write-only-secret-1", 1), "{}"),
    );
    let apply = dir.apply();
    apply.success();
    assert_eq!(
        secret_data(&world, &ns, "wo").expect("Secret")["runner-token"],
        "glrt-write-only-secret-1"
    );
    assert!(
        !dir.state_raw().contains("glrt-write-only-secret-1"),
        "token in state:\n{}",
        dir.state_raw()
    );
    assert_eq!(attr(&dir, ADDRESS, "runner_token_wo"), json!(null));
    dir.plan().expect_code(0);

    // Rotation: the digest changes although the token is never stored.
    dir.write(
        "main.tf",
        &config(&ns, "wo", &wo("glrt-write-only-secret-2", 2), "{}"),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(plan.stdout.contains("\"runner-token\""), "{plan:?}");
    let apply2 = dir.apply();
    apply2.success();
    assert_eq!(
        secret_data(&world, &ns, "wo").expect("Secret")["runner-token"],
        "glrt-write-only-secret-2"
    );
    let state = dir.state_raw();
    assert!(
        !state.contains("glrt-write-only-secret"),
        "token in state:\n{state}"
    );
    for run in [&apply, &plan, &apply2] {
        assert!(
            !run.output().contains("glrt-write-only-secret"),
            "token in CLI output: {run:?}"
        );
    }
    let log = dir.log();
    assert!(log.contains("gitlabrunner"), "the trace log was written");
    assert!(
        !log.contains("glrt-write-only-secret"),
        "the TF_LOG=trace log holds the token"
    );
    dir.plan().expect_code(0);
}

#[test]
fn import_then_an_empty_plan() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("tokimp");
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            "existing",
            "-n",
            &ns,
            "--from-literal=runner-token=glrt-imported",
            "--from-literal=runner-registration-token=",
        ]),
        "kubectl create secret",
    );
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &config(&ns, "existing", &runner_token("glrt-imported"), "null"),
    );

    // A foreign Secret is not taken over by apply.
    let refused = dir.apply();
    assert_fails_with(
        &refused,
        &[
            "Object Already Exists",
            "terraform import gitlabrunner_token_secret.<resource name>",
            &format!("{ns}/existing"),
        ],
    );
    assert!(
        !secret_labels(&world, &ns, "existing").contains_key(MANAGED_BY),
        "left untouched"
    );

    let bad = dir.import(ADDRESS, "existing");
    assert_fails_with(
        &bad,
        &[
            "Invalid Import ID",
            "Expected \"namespace/name\", got \"existing\"",
        ],
    );

    dir.import(ADDRESS, &format!("{ns}/existing")).success();
    assert_eq!(attr(&dir, ADDRESS, "id"), json!(format!("{ns}/existing")));
    // Import keeps only the token's digests: the token is not copied into state (nor into a
    // configuration generated from it). `runner_token` in the configuration is therefore the
    // one planned change: it enters state with the next apply, which writes the same bytes.
    assert!(
        !dir.state_raw().contains("glrt-imported"),
        "the imported token reached state"
    );
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
    assert_eq!(changed, ["+ runner_token = (sensitive value)"], "{output}");
    assert!(
        output.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{output}"
    );
    dir.apply().success();
    assert_eq!(
        secret_data(&world, &ns, "existing").unwrap()["runner-token"],
        "glrt-imported"
    );
    dir.plan().expect_code(0);

    // The next change takes ownership (adds the managed-by label).
    dir.write(
        "main.tf",
        &config(
            &ns,
            "existing",
            &runner_token("glrt-imported"),
            r#"{ team = "ci" }"#,
        ),
    );
    dir.apply().success();
    assert_eq!(
        secret_labels(&world, &ns, "existing")[MANAGED_BY],
        "terraform-provider-gitlabrunner"
    );
    dir.destroy().success();
    assert!(secret_data(&world, &ns, "existing").is_none());
}

#[test]
fn bad_inputs_get_diagnostics_with_paths() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("tokbad");
    let dir = workdir(&world);
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            config(&ns, "t", "", "null"),
            vec!["Missing Runner Token", "runner_token"],
        ),
        (
            config(
                &ns,
                "t",
                "runner_token = \"glrt-a\"\n  registration_token = \"GR1348941b\"",
                "null",
            ),
            vec![
                "Conflicting Token Attributes",
                "runner_token and registration_token are both set",
                "Remove registration_token",
            ],
        ),
        (
            config(&ns, "t", "runner_token = \"glrt-with-newline\\n\"", "null"),
            vec![
                "Invalid Token",
                "runner_token contains a line break",
                "trimspace()",
            ],
        ),
        (
            config(
                &ns,
                "t",
                "runner_token = \"glrt-a\"\n  runner_token_wo_version = 3",
                "null",
            ),
            vec![
                "Write-Only Version Without Token",
                "runner_token_wo_version",
            ],
        ),
        (
            config("Bad_NS", "t", &runner_token("glrt-a"), "null"),
            vec![
                "Invalid Kubernetes Name",
                "namespace must be a DNS-1123 label",
                "\"Bad_NS\"",
            ],
        ),
        (
            config(&ns, "Bad Name", &runner_token("glrt-a"), "null"),
            vec![
                "Invalid Kubernetes Name",
                "name must be a DNS-1123 subdomain",
            ],
        ),
        (
            config(
                &ns,
                "t",
                &runner_token("glrt-a"),
                r#"{ "app.kubernetes.io/managed-by" = "me" }"#,
            ),
            vec!["Reserved Label"],
        ),
        (
            config(
                &ns,
                "t",
                "runner_token = \"glrt-a\"\n  annotations = { \"kubectl.kubernetes.io/last-applied-configuration\" = \"{}\" }",
                "null",
            ),
            vec!["Reserved Annotation", "written by kubectl"],
        ),
    ];
    for (hcl, needles) in cases {
        dir.write("main.tf", &hcl);
        let run = dir.validate();
        assert_fails_with(&run, &needles);
        assert!(
            !diagnostics_only(&run.output()).contains("glrt-with-newline"),
            "a token value in a diagnostic: {run:?}"
        );
    }

    // Warnings: an unusual token prefix and the deprecated registration token.
    dir.write(
        "main.tf",
        &config(
            &ns,
            "warn",
            "registration_token = \"GR1348941token\"",
            "null",
        ),
    );
    let run = dir.apply();
    run.success();
    let text = unwrap_lines(&run.output());
    assert!(
        text.contains("Deprecated Attribute") && text.contains("glrt- token"),
        "{run:?}"
    );
    let data = secret_data(&world, &ns, "warn").expect("Secret");
    assert_eq!(data["runner-registration-token"], "GR1348941token");
    assert_eq!(data["runner-token"], "");
    dir.write(
        "main.tf",
        &config(&ns, "warn", &runner_token("GR1348941token"), "null"),
    );
    let plan = dir.plan();
    plan.expect_code(2);
    assert!(
        unwrap_lines(&plan.output()).contains("Unexpected Runner Token Format"),
        "{plan:?}"
    );
}

#[test]
fn a_missing_namespace_is_explained() {
    let world = KubeWorld::start();
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &config("does-not-exist", "tok", &runner_token("glrt-a"), "null"),
    );
    let run = dir.apply();
    assert_fails_with(
        &run,
        &[
            "Namespace Not Found",
            "Namespace \"does-not-exist\" does not exist",
            "Create the namespace first",
        ],
    );
}

#[test]
fn a_forbidden_request_names_the_verb_resource_namespace_and_rule() {
    let world = KubeWorld::start();
    let ns = world.create_namespace("tok403");
    let dir = workdir(&world);
    // A ServiceAccount that may only read Secrets, as on any cluster: Role, RoleBinding and a
    // token from `kubectl create token`.
    let access = world.service_account_access(
        &ns,
        "secret-reader",
        &json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]),
        dir.path(),
    );
    let kubeconfig = &access.kubeconfig;
    dir.write(
        "provider.tf",
        &format!(
            "provider \"gitlabrunner\" {{\n  kubernetes {{\n    config_path = \"{}\"\n  }}\n}}\n",
            kubeconfig.display()
        ),
    );
    dir.write(
        "main.tf",
        &config(&ns, "tok", &runner_token("glrt-a"), "null"),
    );
    let run = dir.apply();
    assert_fails_with(
        &run,
        &[
            "Kubernetes Permission Denied",
            &format!("may not patch secrets in namespace \"{ns}\""),
            "resources: [\"secrets\"]",
            "RoleBinding",
        ],
    );
    assert!(
        !run.output().contains(&access.token),
        "the credential is never shown"
    );
    assert!(
        run.output()
            .contains(&format!("system:serviceaccount:{ns}:secret-reader")),
        "the denied identity is named: {run:?}"
    );
}

#[test]
fn transient_api_errors_are_retried() {
    let world = KubeWorld::start();
    let admin =
        acceptance::admin_or_skip!(world, "injects 500/429 answers and reads the request log");
    let ns = world.create_namespace("tokretry");
    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &config(&ns, "tok", &runner_token("glrt-a"), "null"),
    );
    let path = format!("/api/v1/namespaces/{ns}/secrets/tok");
    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("PATCH".into()),
            path: path.clone(),
            count: 2,
            action: FaultAction::Status {
                code: 500,
                message: Some("etcd hiccup".into()),
            },
        })
        .expect("fault");
    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("GET".into()),
            path: path.clone(),
            count: 1,
            action: FaultAction::Status {
                code: 429,
                message: Some("slow down".into()),
            },
        })
        .expect("fault");
    admin.clear_requests().expect("clear log");
    dir.apply().success();
    assert!(secret_data(&world, &ns, "tok").is_some());
    let statuses: BTreeMap<(String, u16), usize> = admin
        .requests()
        .expect("request log")
        .into_iter()
        .filter(|r| r.path == path)
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry((r.method, r.status)).or_default() += 1;
            m
        });
    assert_eq!(
        statuses.get(&("PATCH".to_owned(), 500)),
        Some(&2),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.get(&("GET".to_owned(), 429)),
        Some(&1),
        "{statuses:?}"
    );
    let applied = statuses
        .get(&("PATCH".to_owned(), 200))
        .or(statuses.get(&("PATCH".to_owned(), 201)));
    assert_eq!(applied, Some(&1), "{statuses:?}");
}

#[test]
fn a_dropped_connection_is_retried_and_a_slow_api_hits_the_timeout() {
    let world = KubeWorld::start();
    let admin = acceptance::admin_or_skip!(world, "drops a connection and delays answers");
    let ns = world.create_namespace("tokslow");
    let dir = workdir(&world);
    let path = format!("/api/v1/namespaces/{ns}/secrets/tok");
    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("PATCH".into()),
            path: path.clone(),
            count: 1,
            action: FaultAction::Drop,
        })
        .expect("fault");
    dir.write(
        "main.tf",
        &config(&ns, "tok", &runner_token("glrt-a"), "null"),
    );
    dir.apply().success();
    assert!(secret_data(&world, &ns, "tok").is_some());

    // Every read takes longer than the read timeout: the refresh fails with the limit named,
    // and the resource stays in state (a slow API is not a deleted Secret).
    let with_timeout = config(&ns, "tok", &runner_token("glrt-a"), "null").replace(
        "  runner_token",
        "  timeouts {\n    read = \"1s\"\n  }\n  runner_token",
    );
    dir.write("main.tf", &with_timeout);
    dir.apply().success();
    admin
        .inject_fault(&Fault {
            user_agent: None,
            method: Some("GET".into()),
            path: path.clone(),
            count: 50,
            action: FaultAction::Latency { ms: 3_000 },
        })
        .expect("fault");
    let run = dir.plan();
    assert_fails_with(
        &run,
        &[
            "Kubernetes Operation Timed Out",
            "within the time limit of 1s",
            "timeouts",
        ],
    );
    admin.clear_faults().expect("clear faults");
    assert_eq!(
        attr(&dir, ADDRESS, "id"),
        json!(format!("{ns}/tok")),
        "still in state"
    );
    dir.plan().expect_code(0);
}
