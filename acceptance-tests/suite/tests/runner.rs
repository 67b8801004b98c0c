//! `gitlabrunner_runner` end to end (issue 14): real terraform, the Kubernetes API test server
//! (or a real cluster) and the GitLab API test server (always in-process: its test surface —
//! out-of-band edits, deletion, the runner's own rotation, token expiry — is always there).
//!
//! Create of all three runner types with the token only in the Secret, a clean plan, in-place
//! update, UI edits as drift, a runner deleted in GitLab re-created, a deleted Secret repaired by
//! resetting the token, rotation inside `rotate_before` and by `rotation_trigger`, GitLab having
//! rotated the token already, import, destroy, and clear errors. `glrt-` is never in state, plan
//! (file and JSON), `show -json` or the trace log.

mod runner_support;
mod secret_support;

use std::time::{Duration, Instant};

use gitlab_runner_api::{ClientConfig, GitlabClient, RunnerSettings, SecretString};
use gitlab_test_server::{Scope, TokenSpec};
use runner_support::{ADMIN_TOKEN, Setup, expect_changes};
use secret_support::{assert_fails_with, unwrap_lines};

fn three_runners(s: &Setup) -> String {
    [
        s.runner_hcl(
            "instance",
            "instance-token",
            r#"  runner_type = "instance_type"
  description = "k8s instance"
  tag_list    = ["k8s", "linux"]
  run_untagged = false
  maximum_timeout = 3600"#,
        ),
        s.runner_hcl(
            "group",
            "group-token",
            r#"  runner_type = "group_type"
  group_id    = 5
  access_level = "ref_protected""#,
        ),
        s.runner_hcl(
            "project",
            "project-token",
            r#"  runner_type = "project_type"
  project_id  = 12
  locked      = true
  maintenance_note = "owned by terraform""#,
        ),
    ]
    .concat()
}

#[test]
fn three_runner_types_token_only_in_the_secret_update_in_place_and_destroy() {
    let s = Setup::start("runner-types");
    s.dir.write("main.tf", &three_runners(&s));
    s.dir.apply().success();

    for (address, secret, kind) in [
        (
            "gitlabrunner_runner.instance",
            "instance-token",
            "instance_type",
        ),
        ("gitlabrunner_runner.group", "group-token", "group_type"),
        (
            "gitlabrunner_runner.project",
            "project-token",
            "project_type",
        ),
    ] {
        let attrs = s.attrs(address);
        let id = s.runner_id(address);
        let runner = s.runner(id).expect("the runner exists in GitLab");
        assert_eq!(runner.runner_type.as_str(), kind);
        let token = s.secret_token(secret).expect("token Secret written");
        assert_eq!(token, runner.token, "the Secret holds the runner's token");
        assert!(token.starts_with("glrt-"));
        assert!(
            attrs["token_digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert_eq!(attrs["token_secret_name"], secret);
        assert_eq!(attrs["id"], id.to_string());
        let labels = secret_support::secret_labels(&s.world, &s.namespace, secret);
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "terraform-provider-gitlabrunner"
        );
    }
    let instance = s
        .runner(s.runner_id("gitlabrunner_runner.instance"))
        .unwrap();
    assert_eq!(instance.description, "k8s instance");
    assert_eq!(instance.tag_list, vec!["k8s", "linux"]);
    assert!(!instance.run_untagged);
    assert_eq!(instance.maximum_timeout, Some(3600));
    let project = s
        .runner(s.runner_id("gitlabrunner_runner.project"))
        .unwrap();
    assert!(project.locked);
    assert_eq!(
        project.maintenance_note.as_deref(),
        Some("owned by terraform")
    );

    s.dir.plan().success();
    s.assert_no_token_anywhere();

    // In place: same runner, same token, new settings.
    let id = s.runner_id("gitlabrunner_runner.instance");
    let digest = s.attrs("gitlabrunner_runner.instance")["token_digest"].clone();
    let token = s.secret_token("instance-token");
    s.dir.write(
        "main.tf",
        &three_runners(&s)
            .replace("k8s instance", "renamed")
            .replace(
                "run_untagged = false",
                "run_untagged = true\n  paused = true",
            ),
    );
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(plan.stdout.contains("updated in-place"), "{plan:?}");
    s.dir.apply().success();
    assert_eq!(s.runner_id("gitlabrunner_runner.instance"), id);
    let updated = s.runner(id).unwrap();
    assert_eq!(updated.description, "renamed");
    assert!(updated.run_untagged && updated.paused);
    assert_eq!(
        s.attrs("gitlabrunner_runner.instance")["token_digest"],
        digest
    );
    assert_eq!(s.secret_token("instance-token"), token);
    s.dir.plan().success();

    // A new group replaces the runner.
    s.dir.write(
        "main.tf",
        &three_runners(&s)
            .replace("k8s instance", "renamed")
            .replace(
                "run_untagged = false",
                "run_untagged = true\n  paused = true",
            )
            .replace("group_id    = 5", "group_id    = 6"),
    );
    let group_id = s.runner_id("gitlabrunner_runner.group");
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(plan.stdout.contains("must be replaced"), "{plan:?}");
    s.dir.apply().success();
    assert_ne!(s.runner_id("gitlabrunner_runner.group"), group_id);
    assert!(
        s.runner(group_id).is_none(),
        "the old group runner is deleted"
    );

    let ids: Vec<u64> = ["instance", "group", "project"]
        .iter()
        .map(|n| s.runner_id(&format!("gitlabrunner_runner.{n}")))
        .collect();
    s.dir.destroy().success();
    for id in ids {
        assert!(s.runner(id).is_none(), "runner {id} deleted in GitLab");
    }
    for secret in ["instance-token", "group-token", "project-token"] {
        assert!(s.secret_token(secret).is_none(), "{secret} deleted");
    }
}

fn one_runner(s: &Setup, extra: &str) -> String {
    s.runner_hcl(
        "runner",
        "runner-token",
        &format!("  runner_type = \"instance_type\"\n  description = \"k8s\"\n{extra}"),
    )
}

const ADDRESS: &str = "gitlabrunner_runner.runner";

#[test]
fn ui_edits_are_drift_and_a_runner_deleted_in_gitlab_is_recreated_with_a_new_token() {
    let s = Setup::start("runner-drift");
    s.dir.write("main.tf", &one_runner(&s, ""));
    s.dir.apply().success();
    let id = s.runner_id(ADDRESS);

    // An edit in the GitLab UI (as a user would, through the API).
    let client = GitlabClient::new(ClientConfig::new(
        s.gitlab.url(),
        SecretString::from(ADMIN_TOKEN.to_owned()),
    ))
    .unwrap();
    s.block_on(client.update_runner(
        id,
        &RunnerSettings {
            description: Some("edited in the UI".into()),
            ..RunnerSettings::default()
        },
    ))
    .unwrap();
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(
        plan.stdout.contains("\"edited in the UI\" -> \"k8s\""),
        "{plan:?}"
    );
    s.dir.apply().success();
    assert_eq!(s.runner(id).unwrap().description, "k8s");
    s.dir.plan().success();

    // Deleted in GitLab: planned for creation, a new token in the same Secret.
    let digest = s.attrs(ADDRESS)["token_digest"].clone();
    let old_token = s.secret_token("runner-token").unwrap();
    assert!(s.block_on(s.admin().delete_runner(id)).unwrap());
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(plan.stdout.contains("will be created"), "{plan:?}");
    s.dir.apply().success();
    let new_id = s.runner_id(ADDRESS);
    assert_ne!(new_id, id);
    let new_token = s.secret_token("runner-token").unwrap();
    assert_ne!(new_token, old_token);
    assert_eq!(new_token, s.runner(new_id).unwrap().token);
    assert_ne!(s.attrs(ADDRESS)["token_digest"], digest);
    s.dir.plan().success();
    s.assert_no_token_anywhere();
}

#[test]
fn a_deleted_or_edited_secret_is_repaired_by_resetting_the_token() {
    let s = Setup::start("runner-secret");
    s.dir.write("main.tf", &one_runner(&s, ""));
    s.dir.apply().success();
    let id = s.runner_id(ADDRESS);
    let first = s.secret_token("runner-token").unwrap();

    let out = s
        .world
        .kubectl(&["delete", "secret", "runner-token", "-n", &s.namespace]);
    assert!(out.status.success(), "{out:?}");
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(
        unwrap_lines(&plan.output()).contains("Runner Token Will Be Rotated"),
        "{plan:?}"
    );
    s.dir.apply().success();
    assert_eq!(s.runner_id(ADDRESS), id, "same runner");
    let second = s
        .secret_token("runner-token")
        .expect("Secret written again");
    assert_ne!(
        second, first,
        "the token was reset: the old one could not be recovered"
    );
    assert_eq!(second, s.runner(id).unwrap().token);
    s.dir.plan().success();

    // Edited by hand: the token in it is not the one written, so it is reset too.
    let out = s.world.kubectl(&[
        "patch",
        "secret",
        "runner-token",
        "-n",
        &s.namespace,
        "--type=merge",
        "-p",
        r#"{"stringData":{"runner-token":"not-a-token"}}"#,
    ]);
    assert!(out.status.success(), "{out:?}");
    expect_changes(&s.dir.plan());
    s.dir.apply().success();
    let third = s.secret_token("runner-token").unwrap();
    assert_eq!(third, s.runner(id).unwrap().token);
    assert_ne!(third, second);
    s.dir.plan().success();

    // Another Secret: the token cannot be copied (it is never kept), so the runner is replaced.
    s.dir.write(
        "main.tf",
        &one_runner(&s, "").replace("\"runner-token\"", "\"renamed-token\""),
    );
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(plan.stdout.contains("must be replaced"), "{plan:?}");
    s.dir.apply().success();
    let replaced = s.runner_id(ADDRESS);
    assert_ne!(replaced, id);
    assert!(s.runner(id).is_none(), "the old runner is deleted");
    assert!(
        s.secret_token("runner-token").is_none(),
        "the old Secret is deleted"
    );
    assert_eq!(
        s.secret_token("renamed-token").unwrap(),
        s.runner(replaced).unwrap().token
    );
    s.dir.plan().success();
}

#[test]
fn rotation_inside_rotate_before_and_on_rotation_trigger() {
    let s = Setup::start("runner-rotate");
    // Tokens valid for 60 s; rotate in the last 30 s (real time passes: no clock hook needed
    // on the provider's side).
    s.block_on(s.admin().set_token_expiration_interval(Some(60)))
        .unwrap();
    s.dir
        .write("main.tf", &one_runner(&s, "  rotate_before = \"30s\""));
    let created = Instant::now();
    s.dir.apply().success();
    let id = s.runner_id(ADDRESS);
    let first = s.secret_token("runner-token").unwrap();
    let digest = s.attrs(ADDRESS)["token_digest"].clone();
    assert!(s.attrs(ADDRESS)["token_expires_at"].as_str().is_some());
    s.dir.plan().success();

    std::thread::sleep(Duration::from_secs(31).saturating_sub(created.elapsed()));
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(
        unwrap_lines(&plan.output()).contains("within rotate_before"),
        "{plan:?}"
    );
    s.dir.apply().success();
    let second = s.secret_token("runner-token").unwrap();
    assert_ne!(second, first);
    assert_eq!(second, s.runner(id).unwrap().token);
    assert_ne!(s.attrs(ADDRESS)["token_digest"], digest);

    // On demand.
    s.block_on(s.admin().set_token_expiration_interval(None))
        .unwrap();
    s.dir.write(
        "main.tf",
        &one_runner(&s, "  rotation_trigger = \"2030-01\""),
    );
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(
        unwrap_lines(&plan.output()).contains("rotation_trigger changed"),
        "{plan:?}"
    );
    s.dir.apply().success();
    let third = s.secret_token("runner-token").unwrap();
    assert_ne!(third, second);
    assert_eq!(third, s.runner(id).unwrap().token);
    s.dir.plan().success();
    s.assert_no_token_anywhere();
}

#[test]
fn gitlab_already_rotated_or_expired_tokens_are_replaced_through_a_reset() {
    let s = Setup::start("runner-selfrot");
    s.block_on(s.admin().set_token_expiration_interval(Some(7200)))
        .unwrap();
    s.dir.write("main.tf", &one_runner(&s, ""));
    s.dir.apply().success();
    let id = s.runner_id(ADDRESS);
    let in_secret = s.secret_token("runner-token").unwrap();

    // The runner process rotated its token itself (it keeps the new one in its config.toml).
    let rotated = s.block_on(s.admin().rotate_as_runner(&in_secret)).unwrap();
    let plan = s.dir.plan();
    expect_changes(&plan);
    assert!(
        unwrap_lines(&plan.output()).contains("no longer accepts the token"),
        "{plan:?}"
    );
    s.dir.apply().success();
    let now = s.secret_token("runner-token").unwrap();
    assert_ne!(now, in_secret);
    assert_ne!(
        now, rotated.token,
        "the Secret gets a token the provider issued"
    );
    assert_eq!(now, s.runner(id).unwrap().token);
    s.dir.plan().success();

    // Expired by GitLab's clock: verify is refused, the next apply resets it.
    s.block_on(s.admin().advance_clock(7300)).unwrap();
    expect_changes(&s.dir.plan());
    s.dir.apply().success();
    assert_ne!(s.secret_token("runner-token").unwrap(), now);
    s.dir.plan().success();
}

#[test]
fn import_reads_the_token_from_the_secret_without_storing_it() {
    let s = Setup::start("runner-import");
    s.dir.write("main.tf", &one_runner(&s, ""));
    s.dir.apply().success();
    let id = s.runner_id(ADDRESS);
    let digest = s.attrs(ADDRESS)["token_digest"].clone();
    s.dir.run(&["state", "rm", ADDRESS]).success();
    let bad = s.dir.import(ADDRESS, "not-an-id");
    assert_fails_with(
        &bad,
        &["Invalid Import ID", "<runner id>/<namespace>/<secret name>"],
    );
    s.dir
        .import(
            ADDRESS,
            &format!("{id}/{}/runner-token/{}", s.namespace, s.gitlab.url()),
        )
        .success();
    assert_eq!(s.runner_id(ADDRESS), id);
    assert_eq!(s.attrs(ADDRESS)["token_digest"], digest);
    assert_eq!(s.attrs(ADDRESS)["runner_type"], "instance_type");
    s.dir.plan().success();
    s.assert_no_token_anywhere();
}

#[test]
fn clear_errors_for_scope_owner_rules_and_a_missing_namespace() {
    let mut s = Setup::start("runner-errors");
    s.block_on(s.admin().add_token(&TokenSpec::user(
        "manager",
        "glpat-manage-only",
        &[Scope::ManageRunner],
    )))
    .unwrap();
    // Owner rules at plan time, before any request.
    s.dir.write(
        "main.tf",
        &s.runner_hcl(
            "runner",
            "t",
            "  runner_type = \"group_type\"\n  project_id = 3",
        ),
    );
    let plan = s.dir.plan();
    assert_fails_with(&plan, &["Missing Runner Owner", "group_id"]);
    assert_fails_with(&plan, &["Runner Owner Does Not Fit runner_type"]);

    // A token without create_runner.
    s.dir.set_env("GITLAB_TOKEN", "glpat-manage-only");
    s.dir.write("main.tf", &one_runner(&s, ""));
    let apply = s.dir.apply();
    assert_fails_with(
        &apply,
        &["Cannot Create GitLab Runner", "`create_runner` or `api`"],
    );

    // A namespace that does not exist: nothing is created in GitLab.
    s.dir.set_env("GITLAB_TOKEN", ADMIN_TOKEN);
    s.dir.write(
        "main.tf",
        &one_runner(&s, "").replace(
            &format!("namespace = \"{}\"", s.namespace),
            "namespace = \"no-such-namespace\"",
        ),
    );
    let apply = s.dir.apply();
    assert_fails_with(&apply, &["Namespace Not Found", "no-such-namespace"]);
    let log = s.block_on(s.admin().requests()).unwrap();
    assert!(
        !log.iter().any(|r| r.method == "POST"
            && r.path == "/api/v4/user/runners"
            && r.status == Some(201)),
        "no runner was created"
    );
}

/// The runner, its token Secret and a release that consumes them, as a module would.
fn runner_and_release(s: &Setup, trigger: &str) -> String {
    let runner = s.runner_hcl(
        "runner",
        "runner-token",
        &format!("  runner_type = \"instance_type\"\n  tag_list = [\"k8s\"]\n  rotation_trigger = \"{trigger}\""),
    );
    format!(
        r#"{runner}
resource "gitlabrunner_release" "runner" {{
  name              = "gitlab-runner"
  namespace         = "{namespace}"
  chart             = "{chart}"
  gitlab_url        = "{gitlab_url}"
  token_secret_name = gitlabrunner_runner.runner.token_secret_name
  token_digest      = gitlabrunner_runner.runner.token_digest
  runner_id         = gitlabrunner_runner.runner.runner_id
  drain_timeout     = "20s"
  timeout           = 120

  runner {{
    kubernetes {{
      namespace = "{namespace}"
    }}
  }}
}}
"#,
        namespace = s.namespace,
        chart = acceptance::tools::workspace_root()
            .join("acceptance-tests/charts/gitlab-runner")
            .display(),
        gitlab_url = s.gitlab.url(),
    )
}

#[test]
fn a_release_rolls_its_manager_on_rotation_and_is_drained_before_the_runner_is_deleted() {
    let s = Setup::start("runner-release");
    s.dir.write(
        "provider.tf",
        &format!(
            "provider \"gitlabrunner\" {{\n  helm_path = \"{}\"\n  kubernetes {{\n    config_path = \"{}\"\n  }}\n}}\n",
            s.world.tools().helm4.display(),
            s.world.kubeconfig().display()
        ),
    );
    s.dir.write("main.tf", &runner_and_release(&s, "one"));
    s.apply_as_manager("gitlab-runner", "runner-token")
        .success();
    let id = s.runner_id(ADDRESS);
    let annotation = |s: &Setup| {
        s.world
            .get_json("deployment", &s.namespace, "gitlab-runner")
            .expect("the manager's Deployment")["spec"]["template"]["metadata"]["annotations"]
            ["gitlabrunner.io/token-digest"]
            .clone()
    };
    let digest = s.attrs(ADDRESS)["token_digest"].clone();
    assert_eq!(
        annotation(&s),
        digest,
        "the manager carries the token digest"
    );
    s.dir.plan().success();

    s.dir.write("main.tf", &runner_and_release(&s, "two"));
    let plan = s.dir.plan();
    expect_changes(&plan);
    s.apply_as_manager("gitlab-runner", "runner-token")
        .success();
    let rotated = s.attrs(ADDRESS)["token_digest"].clone();
    assert_ne!(rotated, digest);
    assert_eq!(
        annotation(&s),
        rotated,
        "the manager rolled with the new token"
    );
    assert_eq!(
        s.secret_token("runner-token").unwrap(),
        s.runner(id).unwrap().token
    );
    s.dir.plan().success();
    s.assert_no_token_anywhere();

    // Destroy: the release (its drain pauses the runner) goes first, then the runner is
    // deleted in GitLab, then its Secret.
    s.block_on(s.admin().clear_requests()).unwrap();
    s.dir.destroy().success();
    let log = s.block_on(s.admin().requests()).unwrap();
    let calls: Vec<String> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let runner_path = format!("/api/v4/runners/{id}");
    let pause = calls
        .iter()
        .position(|c| *c == format!("PUT {runner_path}"))
        .unwrap_or_else(|| panic!("the drain paused the runner: {calls:?}"));
    let delete = calls
        .iter()
        .rposition(|c| *c == format!("DELETE {runner_path}"))
        .unwrap_or_else(|| panic!("the runner was deleted: {calls:?}"));
    assert!(
        pause < delete,
        "drained before the runner's deletion: {calls:?}"
    );
    assert!(s.runner(id).is_none());
    assert!(s.secret_token("runner-token").is_none());
    assert!(
        s.world
            .get_json("deployment", &s.namespace, "gitlab-runner")
            .is_none()
    );
}

#[test]
fn the_module_creates_runner_secrets_and_release_in_one_apply() {
    let s = Setup::start("runner-module");
    s.dir.write(
        "provider.tf",
        &format!(
            "provider \"gitlabrunner\" {{\n  helm_path = \"{}\"\n  kubernetes {{\n    config_path = \"{}\"\n  }}\n}}\n",
            s.world.tools().helm4.display(),
            s.world.kubeconfig().display()
        ),
    );
    let ca = secret_support::certificate(&["127.0.0.1", "localhost"], (2099, 1, 1), true);
    std::fs::write(s.dir.path().join("ca.pem"), ca).unwrap();
    let module = |trigger: &str| {
        format!(
            r#"
module "runner" {{
  source        = "{source}"
  namespace     = "{namespace}"
  chart         = "{chart}"
  chart_version = "0.86.0-fixture"
  gitlab_url    = "{gitlab_url}"
  gitlab_ca_pem = file("ca.pem")
  runner_name   = "k8s"
  tags          = ["kubernetes", "linux"]
  runner        = {{ rotation_trigger = "{trigger}" }}
  drain_timeout = "20s"
  delete_timeout = "2m"
}}
"#,
            source = acceptance::tools::workspace_root()
                .join("examples/modules/gitlab-runner")
                .display(),
            namespace = s.namespace,
            chart = acceptance::tools::workspace_root()
                .join("acceptance-tests/charts/gitlab-runner")
                .display(),
            gitlab_url = s.gitlab.url(),
        )
    };
    s.dir.write("main.tf", &module("one"));
    s.dir.run(&["get", "-no-color"]).success();
    let apply = s.apply_as_manager("gitlab-runner", "gitlab-runner-token");
    apply.success();
    assert!(apply.stdout.contains("Resources: 3 added"), "{apply:?}");
    let address = "module.runner.gitlabrunner_runner.this[0]";
    let state = s.dir.state();
    let runner = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["module"] == "module.runner" && r["type"] == "gitlabrunner_runner")
        .expect("the runner is in state")["instances"][0]["attributes"]
        .clone();
    let id = runner["runner_id"].as_u64().unwrap();
    let record = s.runner(id).expect("runner in GitLab");
    assert_eq!(record.tag_list, vec!["kubernetes", "linux"]);
    assert_eq!(record.description, "k8s");
    assert_eq!(s.secret_token("gitlab-runner-token").unwrap(), record.token);
    assert!(secret_support::secret_data(&s.world, &s.namespace, "gitlab-runner-certs").is_some());
    let deployment = s
        .world
        .get_json("deployment", &s.namespace, "gitlab-runner")
        .expect("release installed");
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["gitlabrunner.io/token-digest"],
        runner["token_digest"]
    );
    s.dir.plan().success();

    s.dir.write("main.tf", &module("two"));
    expect_changes(&s.dir.plan());
    s.apply_as_manager("gitlab-runner", "gitlab-runner-token")
        .success();
    let deployment = s
        .world
        .get_json("deployment", &s.namespace, "gitlab-runner")
        .unwrap();
    let rolled =
        &deployment["spec"]["template"]["metadata"]["annotations"]["gitlabrunner.io/token-digest"];
    assert_ne!(
        *rolled, runner["token_digest"],
        "rotation rolled the manager ({address})"
    );
    assert_eq!(
        s.secret_token("gitlab-runner-token").unwrap(),
        s.runner(id).unwrap().token
    );
    s.dir.plan().success();
    s.assert_no_token_anywhere();
    s.dir.destroy().success();
    assert!(s.runner(id).is_none());
    assert!(s.secret_token("gitlab-runner-token").is_none());
}
