//! Adopting an existing runner install (issue 18), with real terraform and real helm 3 and 4
//! against the test world (or a real cluster): a release installed by `helm install -f
//! values.yaml` imported into typed attributes (`terraform import` and `import` blocks with
//! `-generate-config-out`), hand-made token and certificate Secrets imported, and `moved` from
//! the hashicorp/helm `helm_release` and hashicorp/kubernetes `kubernetes_secret_v1` states.
//! No path puts the runner token in state.

mod examples_support;
mod release_support;

use std::path::Path;

use acceptance::{KubeWorld, PROVIDER_SOURCE, TerraformRun, TerraformWorkdir};
use release_support::{HelmVersion, chart_path, helm, helm_bin, ok, provider_block, workdir};

const RELEASE: &str = "gitlab-runner";
const TOKEN: &str = "glrt-adopt_AbCdEfGhIjKlMnOpQrStU";
const TOKEN_SECRET: &str = "gitlab-runner-token";
/// The fixture chart's version (`acceptance-tests/charts/gitlab-runner/Chart.yaml`).
const CHART_VERSION: &str = "0.86.0-fixture";

/// The seed walkthrough's kind of values file: `gitlabUrl`, `concurrent`, `rbac.rules`,
/// `runners.secret`, `runners.config` TOML (with a release template, as the chart allows).
/// `pinned`: the namespace, to also write out what this provider always sets (`replicas`,
/// `runners.name`, `rbac.clusterWideAccess`, `unregisterRunners`) — then the adopted
/// configuration renders exactly the installed values and the plan after the adoption is empty.
fn seed_values(pinned: Option<&str>) -> String {
    let (replicas, cluster_wide, runner_name) = match pinned {
        Some(namespace) => (
            "replicas: 1\nunregisterRunners: false\n",
            "  clusterWideAccess: false\n",
            format!("  name: {namespace}-{RELEASE}\n"),
        ),
        None => ("", "", String::new()),
    };
    format!(
        r#"gitlabUrl: https://gitlab.example.com/
concurrent: 4
{replicas}rbac:
  create: true
{cluster_wide}  rules:
    - apiGroups: [""]
      resources: ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs: ["get", "list", "watch", "create", "patch", "delete", "update"]
runners:
{runner_name}  secret: {TOKEN_SECRET}
  config: |
    [[runners]]
      executor = "kubernetes"
      [runners.kubernetes]
        namespace = "{{{{ .Release.Namespace }}}}"
        image = "alpine:3.20"
"#
    )
}

/// Installs the fixture chart with plain helm and `values` (after the token Secret, made with
/// kubectl as the seed does).
fn helm_install(world: &KubeWorld, version: HelmVersion, namespace: &str, values: &str) {
    helm_install_with_token(world, version, namespace, TOKEN_SECRET, TOKEN, values);
}

/// [`helm_install`] with the token Secret `secret` holding `token`.
fn helm_install_with_token(
    world: &KubeWorld,
    version: HelmVersion,
    namespace: &str,
    secret: &str,
    token: &str,
    values: &str,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).expect("values.yaml written");
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            secret,
            "-n",
            namespace,
            &format!("--from-literal=runner-token={token}"),
            "--from-literal=runner-registration-token=",
        ]),
        "kubectl create secret",
    );
    let chart = chart_path();
    let file = file.display().to_string();
    ok(
        &helm(
            world,
            &helm_bin(world, version),
            &[
                "install",
                RELEASE,
                &chart.display().to_string(),
                "-n",
                namespace,
                "-f",
                &file,
            ],
        ),
        "helm install",
    );
}

fn release_dir(world: &KubeWorld, version: HelmVersion) -> TerraformWorkdir {
    let dir = workdir(world);
    dir.write(
        "provider.tf",
        &provider_block(world, &helm_bin(world, version)),
    );
    dir
}

/// What a run printed (terraform import prints its warnings on stdout), with terraform's line
/// wrapping undone.
fn diagnostics(run: &TerraformRun) -> String {
    run.output()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[track_caller]
fn assert_no_token(dir: &TerraformWorkdir) {
    assert_no_token_in(dir, TOKEN);
}

#[track_caller]
fn assert_no_token_in(dir: &TerraformWorkdir, token: &str) {
    assert!(
        !dir.state_raw().contains(token),
        "the runner token reached state"
    );
}

/// Whether `line` of generated HCL sets argument `name`.
fn argument(line: &str, name: &str) -> bool {
    line.trim_start().starts_with(&format!("{name} "))
}

/// A generated configuration with the write-only token filled in: the one thing no state
/// holds, so the user adds it.
fn with_write_only_token(generated: &str, token: &str) -> String {
    generated
        .lines()
        .map(|line| {
            if argument(line, "runner_token_wo") {
                format!("  runner_token_wo = \"{token}\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// `helm install -f values.yaml` (seed values) → `terraform import` into a configuration
/// written from the values → the plan's only difference is the one the import explained.
fn import_seed_install(version: HelmVersion) {
    let world = KubeWorld::start();
    let namespace = world.create_namespace("adoptimp");
    helm_install(&world, version, &namespace, &seed_values(None));
    let dir = release_dir(&world, version);
    dir.write(
        "main.tf",
        &format!(
            r#"
resource "gitlabrunner_release" "runner" {{
  name              = "{RELEASE}"
  namespace         = "{namespace}"
  chart             = "gitlab-runner"
  gitlab_url        = "https://gitlab.example.com/"
  token_secret_name = "{TOKEN_SECRET}"
  concurrent        = 4
  rbac {{
    create = true
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "delete", "update"]
    }}
  }}
  runner_config_toml = <<-EOT
    [[runners]]
      executor = "kubernetes"
      [runners.kubernetes]
        namespace = "{{{{ .Release.Namespace }}}}"
        image = "alpine:3.20"
  EOT
}}
"#
        ),
    );
    let import = dir.import(
        "gitlabrunner_release.runner",
        &format!("{namespace}/{RELEASE}"),
    );
    import.success();
    let warnings = diagnostics(&import);
    for expected in [
        "Chart Repository Not Recorded",
        "Helm Template In Runner Configuration",
        &format!("namespace = \"{namespace}\""),
        "Imported Release Values Differ",
        "rbac.clusterWideAccess, replicas, runners.name, unregisterRunners",
    ] {
        assert!(warnings.contains(expected), "{expected:?} in\n{warnings}");
    }
    let state = dir
        .resource_attributes("gitlabrunner_release.runner")
        .expect("imported");
    assert_eq!(state["gitlab_url"], "https://gitlab.example.com/");
    assert_eq!(state["concurrent"], 4);
    assert_eq!(state["token_secret_name"], TOKEN_SECRET);
    assert_eq!(state["rbac"][0]["rule"][0]["verbs"][0], "get");
    assert!(
        state["runner_config_toml"]
            .as_str()
            .is_some_and(|t| t.contains("{{ .Release.Namespace }}")),
        "{state}"
    );
    // The one difference: the values this provider pins (explained above), so helm runs.
    let plan = dir.plan();
    plan.expect_code(2);
    let output = plan.output();
    assert!(output.contains("~ values_digest"), "{output}");
    assert!(
        output.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{output}"
    );
    for typed in [
        "gitlab_url",
        "concurrent",
        "token_secret_name",
        "runner_config_toml",
        "rbac",
    ] {
        assert!(
            !output.contains(&format!("~ {typed}")),
            "{typed} changed:\n{output}"
        );
        assert!(
            !output.contains(&format!("+ {typed}")),
            "{typed} added:\n{output}"
        );
    }
    assert_no_token(&dir);
}

#[test]
fn a_helm_installed_seed_release_imports_into_typed_attributes_with_helm_4() {
    import_seed_install(HelmVersion::Four);
}

#[test]
fn a_helm_installed_seed_release_imports_into_typed_attributes_with_helm_3() {
    import_seed_install(HelmVersion::Three);
}

/// `import` blocks + `terraform plan -generate-config-out` for the release and its token
/// Secret: the generated configuration (plus the token, which no state holds) validates and its
/// plan is empty.
fn generate_config(version: HelmVersion) {
    let world = KubeWorld::start();
    let namespace = world.create_namespace("adoptgen");
    let values = seed_values(Some(&namespace));
    helm_install(&world, version, &namespace, &values);
    let dir = release_dir(&world, version);
    dir.write(
        "imports.tf",
        &format!(
            r#"
import {{
  to = gitlabrunner_release.runner
  id = "{namespace}/{RELEASE}"
}}
import {{
  to = gitlabrunner_token_secret.token
  id = "{namespace}/{TOKEN_SECRET}"
}}
"#
        ),
    );
    let generate = dir.run(&[
        "plan",
        "-input=false",
        "-no-color",
        "-generate-config-out=generated.tf",
    ]);
    let generated = std::fs::read_to_string(dir.path().join("generated.tf"))
        .unwrap_or_else(|_| panic!("no generated.tf: {generate:?}"));
    assert!(!generated.contains(TOKEN), "token generated:\n{generated}");
    // Computed results are not arguments; write-only ones are generated as null only.
    for computed in [
        "values_digest",
        "revision",
        "runner_config",
        "manifest_objects",
        "uid",
    ] {
        assert!(
            !generated.lines().any(|line| argument(line, computed)),
            "{computed} generated as an argument:\n{generated}"
        );
    }
    for write_only in ["runner_token_wo", "repository_password_wo"] {
        for line in generated.lines().filter(|line| argument(line, write_only)) {
            assert!(line.contains("= null"), "{line}");
        }
    }
    // The token is the one thing no state holds: the user adds it (write-only).
    let with_token = with_write_only_token(&generated, TOKEN);
    dir.write("generated.tf", &with_token);
    dir.validate().success();
    let plan = dir.plan();
    let output = plan.output();
    assert_eq!(plan.code, 2, "{output}\n{generated}");
    assert!(
        output.contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy."),
        "{output}\n{generated}"
    );
    dir.apply().success();
    dir.plan().expect_code(0);
    assert_no_token(&dir);
}

#[test]
fn import_blocks_generate_a_configuration_that_validates_and_plans_empty_with_helm_4() {
    generate_config(HelmVersion::Four);
}

#[test]
fn import_blocks_generate_a_configuration_that_validates_and_plans_empty_with_helm_3() {
    generate_config(HelmVersion::Three);
}

/// A working directory whose CLI configuration also resolves the hashicorp providers the
/// moved states name. Terraform reads their schemas (it never calls them: the move is this
/// provider's `MoveResourceState`); with `GITLABRUNNER_TEST_HASHICORP_PROVIDERS` set to a
/// directory holding the real `terraform-provider-helm` and `terraform-provider-kubernetes`
/// binaries those are used, otherwise this provider's binary stands in under both names (no
/// network here to download them).
fn moved_dir(world: &KubeWorld, version: HelmVersion) -> TerraformWorkdir {
    let dir = release_dir(world, version);
    let overrides = dir.path().join("hashicorp");
    let real = std::env::var_os("GITLABRUNNER_TEST_HASHICORP_PROVIDERS");
    let (helm_dir, kubernetes_dir) = match &real {
        Some(path) => (Path::new(path).to_path_buf(), Path::new(path).to_path_buf()),
        None => {
            let helm_dir = overrides.join("helm");
            let kubernetes_dir = overrides.join("kubernetes");
            for (sub, name) in [(&helm_dir, "helm"), (&kubernetes_dir, "kubernetes")] {
                std::fs::create_dir_all(sub).expect("override dir");
                std::os::unix::fs::symlink(
                    &world.tools().provider,
                    sub.join(format!("terraform-provider-{name}")),
                )
                .expect("stand-in link");
            }
            (helm_dir, kubernetes_dir)
        }
    };
    let provider_dir = world
        .tools()
        .provider
        .parent()
        .expect("provider dir")
        .to_path_buf();
    dir.write(
        ".terraformrc",
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n    \"registry.terraform.io/hashicorp/helm\" = \"{}\"\n    \"registry.terraform.io/hashicorp/kubernetes\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display(),
            helm_dir.display(),
            kubernetes_dir.display()
        ),
    );
    dir
}

/// `moved` from `helm_release` (helm provider 2.x or 3.x state) and `kubernetes_secret_v1`:
/// the first plan after the move is empty when the configuration matches, and the token
/// never reaches state.
fn move_from_hashicorp(version: HelmVersion, helm_provider_3: bool) {
    let world = KubeWorld::start();
    let namespace = world.create_namespace("adoptmv");
    let values = seed_values(Some(&namespace));
    helm_install(&world, version, &namespace, &values);
    let dir = moved_dir(&world, version);
    let source = HashicorpState {
        helm_provider_3,
        release: "runner",
        secret: "token",
        set: serde_json::json!([{"name": "concurrent", "value": "4", "type": ""}]),
    };
    dir.write(
        "terraform.tfstate",
        &source.render(&world, &namespace, &values),
    );
    dir.write(
        "main.tf",
        &format!(
            r#"
moved {{
  from = helm_release.runner
  to   = gitlabrunner_release.runner
}}
moved {{
  from = kubernetes_secret_v1.token
  to   = gitlabrunner_token_secret.token
}}

resource "gitlabrunner_token_secret" "token" {{
  namespace       = "{namespace}"
  name            = "{TOKEN_SECRET}"
  runner_token_wo = "{TOKEN}"
}}

resource "gitlabrunner_release" "runner" {{
  name              = "{RELEASE}"
  namespace         = "{namespace}"
  chart             = "{chart}"
  chart_version     = "{CHART_VERSION}"
  gitlab_url        = "https://gitlab.example.com/"
  token_secret_name = gitlabrunner_token_secret.token.name
  runner_name       = "{namespace}-{RELEASE}"
  concurrent        = 4
  replicas          = 1
  rbac {{
    create       = true
    cluster_wide = false
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "delete", "update"]
    }}
  }}
  runner_config_toml = <<-EOT
    [[runners]]
      executor = "kubernetes"
      [runners.kubernetes]
        namespace = "{{{{ .Release.Namespace }}}}"
        image = "alpine:3.20"
  EOT
}}
"#,
            chart = chart_path().display()
        ),
    );
    // The move itself is the plan's only change (exit code 2 for the state it rewrites).
    let plan = dir.plan();
    let output = plan.output();
    assert_eq!(plan.code, 2, "{output}");
    for expected in [
        "helm_release.runner has moved to gitlabrunner_release.runner",
        "kubernetes_secret_v1.token has moved to gitlabrunner_token_secret.token",
        "Plan: 0 to add, 0 to change, 0 to destroy.",
    ] {
        assert!(output.contains(expected), "{expected:?} in {output}");
    }
    dir.apply().success();
    assert_no_token(&dir);
    let moved = dir
        .resource_attributes("gitlabrunner_token_secret.token")
        .expect("moved Secret");
    assert!(
        moved["token_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    dir.plan().expect_code(0);
}

#[test]
fn moved_from_helm_provider_2_state_plans_empty_with_helm_4() {
    move_from_hashicorp(HelmVersion::Four, false);
}

#[test]
fn moved_from_helm_provider_3_state_plans_empty_with_helm_3() {
    move_from_hashicorp(HelmVersion::Three, true);
}

/// A hand-made token Secret (`kubectl create secret generic`) imported with `runner_token_wo`:
/// digests only in state, the next apply writes the same token and takes ownership (the
/// managed-by label), nothing else changes; likewise a certificate Secret.
#[test]
fn hand_made_token_and_certificate_secrets_adopt_with_digests_only() {
    let world = KubeWorld::start();
    let namespace = world.create_namespace("adoptsec");
    let dir = release_dir(&world, HelmVersion::Four);
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            TOKEN_SECRET,
            "-n",
            &namespace,
            &format!("--from-literal=runner-token={TOKEN}"),
            "--from-literal=runner-registration-token=",
        ]),
        "kubectl create secret",
    );
    let pem = release_support::certificate_pem();
    std::fs::write(dir.path().join("gitlab.example.com.crt"), &pem).expect("cert file");
    ok(
        &world.kubectl(&[
            "create",
            "secret",
            "generic",
            "gitlab-certs",
            "-n",
            &namespace,
            &format!(
                "--from-file=gitlab.example.com.crt={}",
                dir.path().join("gitlab.example.com.crt").display()
            ),
        ]),
        "kubectl create secret (certificate)",
    );
    let before = world
        .get_json("secret", &namespace, TOKEN_SECRET)
        .expect("token Secret");
    dir.write(
        "main.tf",
        &format!(
            r#"
import {{
  to = gitlabrunner_token_secret.token
  id = "{namespace}/{TOKEN_SECRET}"
}}
import {{
  to = gitlabrunner_cert_secret.certs
  id = "{namespace}/gitlab-certs"
}}
resource "gitlabrunner_token_secret" "token" {{
  namespace       = "{namespace}"
  name            = "{TOKEN_SECRET}"
  runner_token_wo = "{TOKEN}"
}}
resource "gitlabrunner_cert_secret" "certs" {{
  namespace       = "{namespace}"
  name            = "gitlab-certs"
  gitlab_hostname = "gitlab.example.com"
  certificate_pem = file("${{path.module}}/gitlab.example.com.crt")
}}
"#
        ),
    );
    let plan = dir.plan();
    let output = plan.output();
    assert!(
        output.contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy."),
        "{output}"
    );
    dir.apply().success();
    assert_no_token(&dir);
    let token = dir
        .resource_attributes("gitlabrunner_token_secret.token")
        .expect("imported");
    assert!(
        token["token_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert!(token["runner_token"].is_null());
    dir.plan().expect_code(0);
    // Ownership is taken deliberately, by a change the configuration makes (a label): the
    // token bytes stay the same, and kubectl's fields conflict with nothing.
    let labelled = dir.path().join("main.tf");
    let text = std::fs::read_to_string(&labelled).expect("main.tf");
    dir.write(
        "main.tf",
        &text.replace(
            &format!("  runner_token_wo = \"{TOKEN}\"\n"),
            &format!("  runner_token_wo = \"{TOKEN}\"\n  labels          = {{ team = \"ci\" }}\n"),
        ),
    );
    dir.apply().success();
    let after = world
        .get_json("secret", &namespace, TOKEN_SECRET)
        .expect("token Secret");
    assert_eq!(after["data"], before["data"], "the token bytes changed");
    assert_eq!(
        after["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "terraform-provider-gitlabrunner"
    );
    dir.plan().expect_code(0);
    assert_no_token(&dir);
}

/// Three of `examples/scenarios` installed by plain helm with equivalent values (the values
/// this provider gave helm for the scenario, recorded by helm in another namespace), then
/// adopted with `import` blocks and `-generate-config-out`: the generated configuration
/// validates and plans nothing but the imports.
#[test]
fn scenarios_installed_by_plain_helm_adopt_through_a_generated_configuration() {
    let world = KubeWorld::start();
    let gitlab = examples_support::GitlabWorld::start();
    let tree = examples_support::ExampleTree::new(&world);
    for scenario in ["basic", "docker-in-docker", "ubi-non-root"] {
        let dir = format!("scenarios/{scenario}");
        let source = world.create_namespace("adoptsrc");
        tree.write_vars(&world, &gitlab, &dir, &source, &[]);
        tree.apply(&dir).success();
        let values = examples_support::helm_values(&world, &source).to_string();
        // The same install, made by hand in a namespace of its own.
        let namespace = world.create_namespace("adoptscn");
        let values = values.replace(&source, &namespace);
        helm_install_with_token(
            &world,
            HelmVersion::Four,
            &namespace,
            "gitlab-runner-token",
            examples_support::RUNNER_TOKEN,
            &values,
        );
        let adopted = release_dir(&world, HelmVersion::Four);
        adopted.write(
            "imports.tf",
            &format!(
                "import {{\n  to = gitlabrunner_release.runner\n  id = \"{namespace}/{RELEASE}\"\n}}\nimport {{\n  to = gitlabrunner_token_secret.token\n  id = \"{namespace}/gitlab-runner-token\"\n}}\n"
            ),
        );
        let generate = adopted.run(&[
            "plan",
            "-input=false",
            "-no-color",
            "-generate-config-out=generated.tf",
        ]);
        let generated = std::fs::read_to_string(adopted.path().join("generated.tf"))
            .unwrap_or_else(|_| panic!("{scenario}: no generated.tf: {generate:?}"));
        assert!(
            !generated.contains(examples_support::RUNNER_TOKEN),
            "{scenario}: token generated"
        );
        adopted.write(
            "generated.tf",
            &with_write_only_token(&generated, examples_support::RUNNER_TOKEN),
        );
        adopted.validate().success();
        let plan = adopted.plan();
        let output = plan.output();
        assert!(
            output.contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy."),
            "{scenario}: {output}\n{generated}"
        );
        assert_no_token_in(&adopted, examples_support::RUNNER_TOKEN);
    }
}

/// One step of the migration guide's runbook (HTML comments `<!-- runbook:… -->` in the
/// Markdown, each before the block it runs).
#[derive(Debug)]
enum Step {
    Section(String),
    File(String, String),
    Shell(Vec<String>),
    Expect(String),
}

/// The runbook steps of the migration guide, in order.
fn runbook(guide: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending: Option<Step> = None;
    let mut block: Option<Vec<&str>> = None;
    for line in guide.lines() {
        if let Some(lines) = block.as_mut() {
            if line.starts_with("```") {
                let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
                match pending.take() {
                    Some(Step::File(name, _)) => steps.push(Step::File(name, text)),
                    Some(Step::Shell(_)) => steps.push(Step::Shell(
                        text.lines()
                            .map(str::to_owned)
                            .filter(|l| !l.is_empty())
                            .collect(),
                    )),
                    _ => {}
                }
                block = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if line.starts_with("```") {
            block = Some(Vec::new());
            continue;
        }
        let Some(marker) = line
            .strip_prefix("<!-- runbook:")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let (kind, argument) = marker.split_once(' ').unwrap_or((marker, ""));
        match kind {
            "section" => steps.push(Step::Section(argument.to_owned())),
            "file" => pending = Some(Step::File(argument.to_owned(), String::new())),
            "shell" => pending = Some(Step::Shell(Vec::new())),
            "expect" => steps.push(Step::Expect(argument.to_owned())),
            other => panic!("unknown runbook marker {other:?}"),
        }
    }
    steps
}

/// The guide's chart source and namespace, swapped for the test world's: the fixture chart
/// from its path (no network), the test's namespace.
fn for_test_world(text: &str, namespace: &str) -> String {
    let chart = chart_path().display().to_string();
    text.replace("ci-runners", namespace)
        .replace(
            "gitlab/gitlab-runner --version 0.86.0",
            &format!("{chart} --version {CHART_VERSION}"),
        )
        .lines()
        .filter(|line| !line.contains("\"https://charts.gitlab.io\""))
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("chart ") && trimmed.ends_with("= \"gitlab-runner\"") {
                format!("  chart         = \"{chart}\"\n")
            } else if trimmed.starts_with("chart_version ") {
                format!("  chart_version = \"{CHART_VERSION}\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// The state the hashicorp providers write for a `helm_release` and a `kubernetes_secret_v1`
/// (their documented schemas) of the release and token Secret installed in a namespace.
struct HashicorpState {
    /// helm provider 3.x (schema version 2: `metadata` one object) or 2.x (schema version 1:
    /// `set` and `metadata` blocks, lists in state).
    helm_provider_3: bool,
    /// The resource names in the old configuration.
    release: &'static str,
    secret: &'static str,
    /// The `helm_release`'s `set` entries.
    set: serde_json::Value,
}

impl HashicorpState {
    /// The state file (`terraform.tfstate`, format 4) for the release installed in
    /// `namespace` from the fixture chart with `values`.
    fn render(&self, world: &KubeWorld, namespace: &str, values: &str) -> String {
        let secret = world
            .get_json("secret", namespace, TOKEN_SECRET)
            .expect("token Secret");
        let metadata = serde_json::json!({
            "name": RELEASE, "namespace": namespace, "revision": 1, "chart": "gitlab-runner",
            "version": CHART_VERSION, "app_version": "18.9.0", "values": "{}", "notes": "",
            "first_deployed": 0, "last_deployed": 0
        });
        let (helm_version, metadata) = if self.helm_provider_3 {
            (2, metadata)
        } else {
            (1, serde_json::json!([metadata]))
        };
        let release = serde_json::json!({
            "id": RELEASE, "name": RELEASE, "namespace": namespace,
            "chart": chart_path().display().to_string(), "repository": null,
            "version": CHART_VERSION, "values": [values],
            "set": self.set, "set_list": [], "set_sensitive": [],
            "atomic": false, "wait": true, "timeout": 300, "create_namespace": false,
            "status": "deployed", "metadata": metadata
        });
        let token_secret = serde_json::json!({
            "id": format!("{namespace}/{TOKEN_SECRET}"),
            "binary_data": null,
            "data": {"runner-token": TOKEN, "runner-registration-token": ""},
            "immutable": false,
            "metadata": [{
                "annotations": {}, "generate_name": "", "generation": 0, "labels": {},
                "name": TOKEN_SECRET, "namespace": namespace,
                "resource_version": secret["metadata"]["resourceVersion"],
                "uid": secret["metadata"]["uid"]
            }],
            "timeouts": null, "type": "Opaque", "wait_for_service_account_token": true
        });
        let resource = |provider: &str, kind: &str, name: &str, version: i64, attributes| {
            serde_json::json!({
                "mode": "managed",
                "type": kind,
                "name": name,
                "provider": format!("provider[\"registry.terraform.io/hashicorp/{provider}\"]"),
                "instances": [{
                    "schema_version": version,
                    "attributes": attributes,
                    "sensitive_attributes": [],
                    "private": "bnVsbA=="
                }]
            })
        };
        serde_json::to_string_pretty(&serde_json::json!({
            "version": 4,
            "terraform_version": "1.11.4",
            "serial": 3,
            "lineage": "5f0c9f4e-6c2a-4d59-9f0e-2b7a51c0a001",
            "outputs": {},
            "resources": [
                resource("helm", "helm_release", self.release, helm_version, release),
                resource("kubernetes", "kubernetes_secret_v1", self.secret, 0, token_secret),
            ],
            "check_results": null
        }))
        .expect("state JSON")
    }
}

/// Runs one line of the guide's shell blocks: `terraform …` in the working directory (with
/// `-no-color`, `-input=false` where the command takes them), anything else (`kubectl`,
/// `helm`) through `sh` with the test world's tools first on PATH.
fn run_line(world: &KubeWorld, dir: &TerraformWorkdir, line: &str) -> String {
    if let Some(rest) = line.strip_prefix("terraform ") {
        let mut words = rest.split_whitespace();
        let command = words.next().expect("a terraform command");
        let mut args = vec![command, "-no-color"];
        if matches!(command, "plan" | "apply") {
            args.push("-input=false");
        }
        args.extend(words);
        let run = dir.run(&args);
        assert_eq!(run.code, 0, "{line}: {run:?}");
        return run.output();
    }
    let bin = dir.path().join(".bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    for (name, target) in [
        ("helm", &world.tools().helm4),
        ("kubectl", &world.tools().kubectl),
    ] {
        let link = bin.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(target, &link).expect("tool link");
        }
    }
    let home = dir.path().join(".home");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", line])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("KUBECONFIG", world.kubeconfig())
        .env("HOME", &home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("RUNNER_TOKEN", TOKEN)
        .output()
        .expect("sh runs");
    ok(&out, line);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docs/guides/migrating-from-helm-release.md` runs as written: every file it shows is
/// written, every command run, every expected line found; section A from the hashicorp
/// providers' state (written as they write it), section B from a hand-made install; no token
/// in state at the end of either.
#[test]
fn the_migration_guide_runs_as_written() {
    let world = KubeWorld::start();
    let guide = std::fs::read_to_string(
        acceptance::tools::workspace_root().join("docs/guides/migrating-from-helm-release.md"),
    )
    .expect("the guide");
    let steps = runbook(&guide);
    let mut preamble = Vec::new();
    let mut sections: Vec<(String, Vec<&Step>)> = Vec::new();
    for step in &steps {
        match step {
            Step::Section(name) => sections.push((name.clone(), Vec::new())),
            other => match sections.last_mut() {
                Some((_, section)) => section.push(other),
                None => preamble.push(other),
            },
        }
    }
    let names: Vec<&str> = sections.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["moved", "import"], "the guide's sections");
    for (name, section) in &sections {
        let namespace = world.create_namespace(&format!("guide{name}"));
        let mut dir = if name == "moved" {
            moved_dir(&world, HelmVersion::Four)
        } else {
            release_dir(&world, HelmVersion::Four)
        };
        dir.set_env("TF_VAR_runner_token", TOKEN);
        for step in &preamble {
            if let Step::File(file, text) = step {
                dir.write(file, &for_test_world(text, &namespace));
            }
        }
        if name == "moved" {
            // What section A starts from: the release and Secret the hashicorp providers made.
            let values = std::fs::read_to_string(dir.path().join("values.yaml")).expect("values");
            helm_install(&world, HelmVersion::Four, &namespace, &values);
            let source = HashicorpState {
                helm_provider_3: true,
                release: "gitlab_runner",
                secret: "runner_token",
                set: serde_json::json!([]),
            };
            dir.write(
                "terraform.tfstate",
                &source.render(&world, &namespace, &values),
            );
        }
        let mut last_output = String::new();
        for step in section {
            match step {
                Step::File(file, text) => {
                    dir.write(file, &for_test_world(text, &namespace));
                }
                Step::Shell(lines) => {
                    last_output.clear();
                    for line in lines {
                        let line = for_test_world(line, &namespace);
                        last_output.push_str(&run_line(&world, &dir, line.trim()));
                    }
                }
                Step::Expect(text) => {
                    let flat = last_output.split_whitespace().collect::<Vec<_>>().join(" ");
                    assert!(
                        flat.contains(text.as_str()),
                        "{name}: {text:?} in {last_output}"
                    );
                }
                Step::Section(_) => unreachable!("sections were split off"),
            }
        }
        assert_no_token(&dir);
    }
}
