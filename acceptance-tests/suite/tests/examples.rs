#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

//! `examples/` in CI: every directory with `.tf` files is `terraform fmt` clean and passes
//! `terraform validate`; every scenario and every environment is applied against a fresh test
//! world, planned again with no changes, and destroyed (release first, then its Secrets); the
//! scheduled drift check (`examples/drift-detection`) installs the provider from a filesystem
//! mirror the way its `.gitlab-ci.yml` does, passes on an untouched release and exits 2 after
//! out-of-band changes.
//!
//! Scenarios run sequentially inside a few tests (each terraform run spawns helm and the
//! provider; the machine has two cores).

mod examples_support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use acceptance::KubeWorld;
use acceptance::oci::ChartPublisher;
use examples_support::{
    ExampleTree, GitlabWorld, IssueRecorder, RELEASE, RUNNER_TOKEN, assert_contains_all,
    certificate_pem, config_template, config_toml, create_secret, examples_root, hcl_string,
    helm_values, kubectl_ok, secret_value, sources, terraform_dirs,
};
use oci_registry_test_server::{Auth, TestRegistry};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// fmt and validate

#[test]
fn every_example_is_terraform_fmt_clean() {
    let tools = acceptance::Tools::locate();
    let out = Command::new(&tools.terraform)
        .args(["fmt", "-check", "-recursive", "-diff", "-no-color"])
        .arg(examples_root())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform fmt runs");
    assert!(
        out.status.success(),
        "terraform fmt -check found unformatted files:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Registry-convention snippets (`examples/resources/<type>/`) carry no `terraform` block: the
/// registry shows them under `examples/provider/provider.tf`, so they are validated with it.
fn is_registry_snippet(dir: &Path) -> bool {
    dir.starts_with("resources")
}

#[test]
fn every_example_directory_passes_terraform_validate() {
    let world = KubeWorld::start();
    let tree = ExampleTree::new(&world);
    let dirs = terraform_dirs();
    assert!(
        dirs.len() >= 17,
        "the walk found too few example directories: {dirs:?}"
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.to_str().expect("UTF-8 path");
        if is_registry_snippet(dir) {
            fs::copy(
                examples_root().join("provider/provider.tf"),
                tree.path(name).join("provider.tf"),
            )
            .expect("copy provider.tf beside the snippet");
        }
        if sources(dir).contains("module \"") {
            // Local module sources need `terraform get`; with dev_overrides no provider is
            // downloaded, so this works offline (init would try the registry).
            let get = tree.get_modules(name);
            if get.code != 0 {
                failures.push(format!("{name}: terraform get\n{get:?}"));
                continue;
            }
        }
        let validate = tree.run(name, &["validate", "-no-color"]);
        if validate.code != 0 || !validate.stdout.contains("The configuration is valid") {
            failures.push(format!("{name}: {validate:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "terraform validate failed in:\n{}",
        failures.join("\n\n")
    );
}

/// Root modules (a `provider "gitlabrunner"` block) that these tests apply, and the ones
/// applied elsewhere.
const SCENARIOS: &[&str] = &[
    "basic",
    "cache-azure",
    "cache-gcs",
    "cache-s3",
    "custom-ca-gitlab-chart",
    "custom-ca-pem",
    "docker-in-docker",
    "existing-service-account",
    "kaniko",
    "oci-chart",
    "private-registry",
    "ubi-non-root",
];
const ENVIRONMENTS: &[&str] = &["dev", "staging", "prod"];
/// `quickstart` is applied by `scripts/quickstart.sh`; `provider` is the registry's provider
/// snippet (a `~/.kube/config` connection, nothing to apply).
const APPLIED_ELSEWHERE: &[&str] = &["quickstart", "provider"];

/// A ServiceAccount token Secret as clusters older than 1.24 create them: its name starts with
/// our token Secret's name.
const SA_TOKEN_SECRET: &str = "gitlab-runner-token-x7k2p";

#[test]
fn every_root_example_is_applied_by_a_test() {
    let mut roots = BTreeSet::new();
    for dir in terraform_dirs() {
        if sources(&dir).contains("provider \"gitlabrunner\"") {
            roots.insert(dir.to_str().expect("UTF-8").to_owned());
        }
    }
    let mut covered: BTreeSet<String> = SCENARIOS
        .iter()
        .map(|s| format!("scenarios/{s}"))
        .chain(ENVIRONMENTS.iter().map(|e| format!("environments/{e}")))
        .collect();
    covered.extend(APPLIED_ELSEWHERE.iter().map(|s| (*s).to_owned()));
    assert_eq!(
        roots, covered,
        "a root module under examples/ is not applied by a test (or a listed one is gone)"
    );
}

// ---------------------------------------------------------------------------------------------
// scenarios: apply → plan (0) → destroy

/// One test world (Kubernetes + GitLab API) and a private copy of the examples.
struct Bench {
    world: KubeWorld,
    gitlab: GitlabWorld,
    tree: ExampleTree,
}

impl Bench {
    fn start() -> Bench {
        let world = KubeWorld::start();
        let gitlab = GitlabWorld::start();
        let tree = ExampleTree::new(&world);
        Bench {
            world,
            gitlab,
            tree,
        }
    }

    /// Applies `dir` in a new namespace (after `prepare` ran there), runs `check`, proves the
    /// next plan is empty, destroys, and proves the release and the token Secret are gone.
    fn exercise(
        &self,
        dir: &str,
        prepare: impl FnOnce(&KubeWorld, &str) -> Vec<(&'static str, String)>,
        check: impl FnOnce(&Bench, &str, &str),
    ) -> String {
        let namespace = self.world.create_namespace(&short(dir));
        // A runner of its own in GitLab, so the drain of this example has one to pause.
        let token = format!("glrt-t1_{}", namespace.replace('-', ""));
        let runner_id = self.gitlab.create_runner(&token, dir);
        let mut extra = prepare(&self.world, &namespace);
        extra.push(("runner_token", hcl_string(&token)));
        self.tree
            .write_vars(&self.world, &self.gitlab, dir, &namespace, &extra);
        if sources(Path::new(dir)).contains("module \"") {
            self.tree.get_modules(dir).success();
        }
        self.tree.apply(dir).success();
        assert!(
            !self.tree.state_raw(dir).contains(&token),
            "{dir}: the write-only runner token reached the state file"
        );
        let deployment = self
            .world
            .get_json("deployment", &namespace, RELEASE)
            .unwrap_or_else(|| panic!("{dir}: the release's Deployment exists"));
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["annotations"]["gitlabrunner.io/token-digest"]
                .as_str()
                .map(|d| d.starts_with("sha256:")),
            Some(true),
            "{dir}: the manager pod carries the token digest"
        );
        check(self, dir, &namespace);
        let plan = self.tree.plan(dir);
        assert_eq!(
            plan.code, 0,
            "{dir}: the plan after apply is not empty: {plan:?}"
        );
        assert!(
            !self.gitlab.runner_paused(runner_id),
            "{dir}: paused too early"
        );
        // Older clusters (< 1.24) give every ServiceAccount a token Secret named
        // `<sa>-token-<random>`; one sits beside ours and is not ours to delete.
        kubectl_ok(
            &self.world,
            &[
                "create",
                "secret",
                "generic",
                SA_TOKEN_SECRET,
                "-n",
                &namespace,
                "--from-literal=token=not-a-runner-token",
            ],
        );
        let before_destroy = self.gitlab.requests().len();
        let destroy = self.tree.destroy(dir);
        destroy.success();
        assert_release_before_secrets(dir, &destroy.stdout);
        self.assert_runner_paused_by_destroy(dir, before_destroy);
        assert!(
            self.gitlab.runner_paused(runner_id),
            "{dir}: the runner is not paused after destroy"
        );
        assert!(
            self.world
                .get_json("deployment", &namespace, RELEASE)
                .is_none(),
            "{dir}: the Deployment outlived destroy"
        );
        assert!(
            self.world
                .get_json(
                    "secret",
                    &namespace,
                    &format!("sh.helm.release.v1.{RELEASE}.v1")
                )
                .is_none(),
            "{dir}: the helm release record outlived destroy"
        );
        let secrets = kubectl_ok(
            &self.world,
            &["get", "secrets", "-n", &namespace, "-o", "name"],
        );
        let left = String::from_utf8_lossy(&secrets.stdout);
        // By exact name: older clusters keep ServiceAccount token Secrets named
        // `gitlab-runner-token-xxxxx`, which are not ours.
        assert!(
            !left
                .lines()
                .any(|line| line.trim() == "secret/gitlab-runner-token"),
            "{dir}: the token Secret outlived destroy: {left}"
        );
        assert!(
            left.lines()
                .any(|line| line.trim() == format!("secret/{SA_TOKEN_SECRET}")),
            "{dir}: destroy removed a Secret that is not the provider's: {left}"
        );
        namespace
    }

    /// The drain ran: destroy paused the runner in GitLab with the API token the provider was
    /// given (`GITLAB_TOKEN`).
    #[track_caller]
    fn assert_runner_paused_by_destroy(&self, dir: &str, requests_before: usize) {
        let during_destroy: Vec<_> = self
            .gitlab
            .requests()
            .into_iter()
            .skip(requests_before)
            .collect();
        let paused = during_destroy.iter().any(|r| {
            r.method == "PUT"
                && r.path.starts_with("/api/v4/runners/")
                && r.body.as_deref().is_some_and(|b| b.contains("paused"))
                && r.status.is_some_and(|s| s < 300)
                && r.token_name.as_deref() == Some(examples_support::ADMIN_TOKEN_NAME)
        });
        let seen: Vec<String> = during_destroy
            .iter()
            .map(|r| format!("{} {} {:?}", r.method, r.path, r.status))
            .collect();
        assert!(
            paused,
            "{dir}: destroy did not pause the runner in GitLab (drain); requests: {seen:?}"
        );
    }

    fn deployment(&self, namespace: &str) -> serde_json::Value {
        self.world
            .get_json("deployment", namespace, RELEASE)
            .expect("Deployment exists")
    }
}

/// A DNS-1123 namespace prefix from an example directory.
fn short(dir: &str) -> String {
    dir.rsplit('/')
        .next()
        .unwrap_or(dir)
        .chars()
        .take(20)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Destroy output: the release finishes destroying before any Secret starts.
#[track_caller]
fn assert_release_before_secrets(dir: &str, stdout: &str) {
    let release_done = stdout
        .lines()
        .position(|l| l.contains("gitlabrunner_release.") && l.contains("Destruction complete"))
        .unwrap_or_else(|| panic!("{dir}: no release destruction in:\n{stdout}"));
    for (index, line) in stdout.lines().enumerate() {
        if (line.contains("gitlabrunner_token_secret.")
            || line.contains("gitlabrunner_cert_secret."))
            && line.contains("Destroying")
        {
            assert!(
                index > release_done,
                "{dir}: a Secret was destroyed before the release was gone:\n{stdout}"
            );
        }
    }
}

fn no_vars(_: &KubeWorld, _: &str) -> Vec<(&'static str, String)> {
    Vec::new()
}

fn dockerconfig_secret(world: &KubeWorld, namespace: &str, name: &str) {
    kubectl_ok(
        world,
        &[
            "create",
            "secret",
            "docker-registry",
            name,
            "-n",
            namespace,
            "--docker-server=registry.example.com",
            "--docker-username=ci",
            "--docker-password=not-a-real-password",
        ],
    );
}

#[test]
fn scenarios_runner_shapes_apply_plan_clean_and_destroy() {
    let bench = Bench::start();

    bench.exercise("scenarios/basic", no_vars, |b, _, ns| {
        let template = config_template(&b.world, ns);
        assert_contains_all(
            &template,
            &[
                "executor = \"kubernetes\"",
                &format!("namespace = \"{ns}\""),
                "image = \"alpine:3.20\"",
            ],
        );
        assert!(config_toml(&b.world, ns).contains("concurrent = 4"));
        let role = b.world.get_json("role", ns, RELEASE).expect("Role");
        assert_eq!(role["rules"][0]["resources"][0], "pods");
    });

    bench.exercise("scenarios/docker-in-docker", no_vars, |b, _, ns| {
        assert_contains_all(
            &config_template(&b.world, ns),
            &[
                "privileged = true",
                "environment = [\"DOCKER_TLS_CERTDIR=/certs\"]",
                "allowed_images = [\"registry.example.com/*\"]",
                "allowed_services = [\"registry.example.com/docker:*-dind\"]",
                "[runners.kubernetes.node_selector]",
                "\"node-role.example.com/ci-build\" = \"true\"",
                "[runners.kubernetes.node_tolerations]",
                "\"dedicated=ci-build\" = \"NoSchedule\"",
                "[[runners.kubernetes.volumes.empty_dir]]",
                "name = \"docker-certs\"",
                "mount_path = \"/certs/client\"",
                "medium = \"Memory\"",
            ],
        );
    });

    bench.exercise(
        "scenarios/kaniko",
        |world, ns| {
            dockerconfig_secret(world, ns, "kaniko-registry-auth");
            Vec::new()
        },
        |b, _, ns| {
            let template = config_template(&b.world, ns);
            assert_contains_all(
                &template,
                &[
                    "privileged = false",
                    "allow_privilege_escalation = false",
                    "\"gcr.io/kaniko-project/executor:*-debug\"",
                    "[[runners.kubernetes.volumes.secret]]",
                    "name = \"kaniko-registry-auth\"",
                    "mount_path = \"/kaniko/.docker\"",
                    "\".dockerconfigjson\" = \"config.json\"",
                ],
            );
            assert!(!template.contains("privileged = true"), "{template}");
        },
    );

    bench.exercise(
        "scenarios/private-registry",
        |world, ns| {
            dockerconfig_secret(world, ns, "regcred");
            Vec::new()
        },
        |b, _, ns| {
            let pod = &b.deployment(ns)["spec"]["template"]["spec"];
            assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
            assert_eq!(
                pod["containers"][0]["image"],
                "registry.example.com/gitlab-org/gitlab-runner:alpine-v18.9.0"
            );
            let account = b
                .world
                .get_json("serviceaccount", ns, "gitlab-runner")
                .expect("ServiceAccount");
            assert_eq!(account["imagePullSecrets"], json!([{"name": "regcred"}]));
            assert_contains_all(
                &config_template(&b.world, ns),
                &[
                    "image_pull_secrets = [\"regcred\"]",
                    "helper_image = \"registry.example.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v18.9.0\"",
                    "image = \"registry.example.com/library/alpine:3.20\"",
                    "allowed_images = [\"registry.example.com/*\"]",
                ],
            );
        },
    );

    bench.exercise("scenarios/ubi-non-root", no_vars, |b, _, ns| {
        let pod = &b.deployment(ns)["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsUser"], 999);
        assert_eq!(pod["securityContext"]["runAsGroup"], 999);
        assert_eq!(pod["securityContext"]["fsGroup"], 999);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        let container = &pod["containers"][0];
        assert_eq!(
            container["image"],
            "registry.gitlab.com/gitlab-org/gitlab-runner:ubi-fips-v18.9.0"
        );
        assert_eq!(container["command"][0], "/usr/bin/tini");
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
    });

    let namespace = bench.exercise(
        "scenarios/existing-service-account",
        |world, ns| {
            kubectl_ok(
                world,
                &["create", "serviceaccount", "gitlab-runner", "-n", ns],
            );
            kubectl_ok(world, &["create", "serviceaccount", "ci-jobs", "-n", ns]);
            Vec::new()
        },
        |b, _, ns| {
            let pod = &b.deployment(ns)["spec"]["template"]["spec"];
            assert_eq!(pod["serviceAccountName"], "gitlab-runner");
            assert!(
                b.world.get_json("role", ns, RELEASE).is_none(),
                "rbac.create = false must render no Role"
            );
            assert!(b.world.get_json("rolebinding", ns, RELEASE).is_none());
            assert!(config_template(&b.world, ns).contains("service_account = \"ci-jobs\""));
        },
    );
    // The platform team's ServiceAccounts were not the release's to delete.
    for account in ["gitlab-runner", "ci-jobs"] {
        assert!(
            bench
                .world
                .get_json("serviceaccount", &namespace, account)
                .is_some(),
            "destroy deleted the pre-existing ServiceAccount {account}"
        );
    }
}

#[test]
fn scenarios_ca_and_cache_apply_plan_clean_and_destroy() {
    let bench = Bench::start();
    let pem = certificate_pem();
    let pem_dir = tempfile::tempdir().expect("temp dir");
    let pem_file = pem_dir.path().join("gitlab-ca.pem");
    fs::write(&pem_file, &pem).expect("write PEM");

    bench.exercise(
        "scenarios/custom-ca-pem",
        |_, _| {
            vec![(
                "gitlab_ca_file",
                hcl_string(&pem_file.display().to_string()),
            )]
        },
        |b, _, ns| {
            assert_eq!(
                secret_value(
                    &b.world,
                    ns,
                    "gitlab-runner-certs",
                    "gitlab.example.com.crt"
                )
                .as_deref(),
                Some(pem.as_str()),
                "the runner trusts <gitlab host>.crt"
            );
            assert_certs_mounted(&b.deployment(ns));
        },
    );

    // The GitLab chart's wildcard chain Secret, in the GitLab release's own namespace.
    let gitlab_namespace = bench.world.create_namespace("gitlab");
    let chain_key = "gitlab.example.com.crt";
    create_secret(
        &bench.world,
        &gitlab_namespace,
        "gitlab-wildcard-tls-chain",
        &[(chain_key, pem.as_str())],
    );
    let renewed = certificate_pem();
    bench.exercise(
        "scenarios/custom-ca-gitlab-chart",
        |_, _| {
            vec![
                ("gitlab_namespace", hcl_string(&gitlab_namespace)),
                ("gitlab_release", hcl_string("gitlab")),
                ("gitlab_domain", hcl_string("example.com")),
            ]
        },
        |b, dir, ns| {
            assert_eq!(
                secret_value(&b.world, ns, "gitlab-runner-certs", chain_key).as_deref(),
                Some(pem.as_str())
            );
            assert_certs_mounted(&b.deployment(ns));
            // The GitLab chart renews its certificate: the copy follows on the next apply.
            kubectl_ok(
                &b.world,
                &[
                    "delete",
                    "secret",
                    "gitlab-wildcard-tls-chain",
                    "-n",
                    &gitlab_namespace,
                ],
            );
            create_secret(
                &b.world,
                &gitlab_namespace,
                "gitlab-wildcard-tls-chain",
                &[(chain_key, renewed.as_str())],
            );
            let plan = b.tree.plan(dir);
            assert_eq!(
                plan.code, 2,
                "a renewed source must show in the plan: {plan:?}"
            );
            b.tree.apply(dir).success();
            assert_eq!(
                secret_value(&b.world, ns, "gitlab-runner-certs", chain_key).as_deref(),
                Some(renewed.as_str())
            );
        },
    );

    // Each cache scenario creates its credentials Secret (gitlabrunner_cache_secret) from
    // write-only variables under the chart's key names: one apply, nothing made by hand.
    let service_account = serde_json::json!({
        "type": "service_account",
        "client_email": "ci@example.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nexample-gcs-key\n-----END PRIVATE KEY-----\n",
    })
    .to_string();
    // (backend, [(variable, chart key, value)], config.toml table)
    type Credentials<'a> = Vec<(&'static str, &'a str, &'a str)>;
    let cache_cases: [(&str, Credentials, &str); 3] = [
        (
            "s3",
            vec![
                ("s3_access_key", "accesskey", "AKIAEXAMPLE"),
                ("s3_secret_key", "secretkey", "example-secret-key"),
            ],
            "[runners.cache.s3]",
        ),
        (
            "gcs",
            vec![(
                "gcs_credentials_json",
                "gcs-application-credentials-file",
                service_account.as_str(),
            )],
            "[runners.cache.gcs]",
        ),
        (
            "azure",
            vec![
                ("azure_account_name", "azure-account-name", "examplestore"),
                (
                    "azure_account_key",
                    "azure-account-key",
                    "example-azure-key",
                ),
            ],
            "[runners.cache.azure]",
        ),
    ];
    for (backend, keys, table) in cache_cases {
        bench.exercise(
            &format!("scenarios/cache-{backend}"),
            |_, _| {
                keys.iter()
                    .map(|(variable, _, value)| (*variable, hcl_string(value)))
                    .collect()
            },
            |b, dir, ns| {
                for (_, key, value) in &keys {
                    assert_eq!(
                        secret_value(&b.world, ns, "runner-cache-credentials", key).as_deref(),
                        Some(*value),
                        "the cache Secret holds the chart's key {key}"
                    );
                }
                let template = config_template(&b.world, ns);
                assert_contains_all(
                    &template,
                    &[
                        &format!("Type = \"{backend}\""),
                        "Shared = true",
                        table,
                        "gitlab-runner-cache",
                    ],
                );
                let values = helm_values(&b.world, ns);
                assert_eq!(
                    values["runners"]["cache"]["secretName"], "runner-cache-credentials",
                    "the chart reads the cache credentials from the Secret"
                );
                let annotations = &b.deployment(ns)["spec"]["template"]["metadata"]["annotations"];
                assert!(
                    annotations["gitlabrunner.io/cache-digest"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("sha256:")),
                    "a rotated cache key rolls the manager: {annotations}"
                );
                let state = b.tree.state_raw(dir);
                for (_, _, credential) in &keys {
                    assert!(!template.contains(credential), "credential in config.toml");
                    assert!(!state.contains(credential), "credential in the state file");
                }
            },
        );
    }
}

#[test]
fn scenario_oci_chart_installs_from_a_private_registry() {
    const USER: &str = "ci-robot";
    const PASSWORD: &str = "scenario-Registry-pw-4d2";
    let bench = Bench::start();
    let registry = TestRegistry::start(oci_registry_test_server::Options {
        tls: true,
        auth: Auth::Bearer {
            username: USER.into(),
            password: PASSWORD.into(),
            anonymous_pull: false,
        },
        ..oci_registry_test_server::Options::default()
    })
    .expect("OCI registry");
    let publisher = ChartPublisher::new(&bench.world.tools().helm4, &registry);
    publisher.login(USER, PASSWORD);
    publisher.publish(&examples_support::chart_path(), "charts");
    let ca_dir = tempfile::tempdir().expect("temp dir");
    let ca_file = ca_dir.path().join("registry-ca.pem");
    fs::write(&ca_file, registry.ca_pem().expect("CA")).expect("write CA");

    bench.exercise(
        "scenarios/oci-chart",
        |_, _| {
            vec![
                (
                    "chart",
                    hcl_string(&registry.oci_url("charts/gitlab-runner")),
                ),
                ("registry_username", hcl_string(USER)),
                ("registry_password", hcl_string(PASSWORD)),
                (
                    "registry_ca_file",
                    hcl_string(&ca_file.display().to_string()),
                ),
            ]
        },
        |b, dir, _| {
            assert!(
                registry.requests().iter().any(|r| r.method == "GET"
                    && r.path.starts_with("/v2/charts/gitlab-runner/manifests/")
                    && r.status == 200),
                "{dir}: helm did not pull the chart from the registry"
            );
            assert!(
                !b.tree.state_raw(dir).contains(PASSWORD),
                "{dir}: the registry password reached the state file"
            );
        },
    );
}

#[track_caller]
fn assert_certs_mounted(deployment: &serde_json::Value) {
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes");
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == "gitlab-runner-certs"),
        "the cert Secret is mounted: {volumes:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// environments: one module, three sizes

#[test]
fn environments_use_the_module_with_their_own_size_tags_and_namespace() {
    let bench = Bench::start();
    let pem = certificate_pem();
    let pem_dir = tempfile::tempdir().expect("temp dir");
    let pem_file = pem_dir.path().join("gitlab-ca.pem");
    fs::write(&pem_file, &pem).expect("write PEM");

    bench.exercise("environments/dev", no_vars, |b, _, ns| {
        assert!(config_toml(&b.world, ns).contains("concurrent = 2"));
        let deployment = b.deployment(ns);
        assert_eq!(deployment["spec"]["replicas"], 1);
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["annotations"]["gitlab-runner.example.com/tags"],
            "dev,kubernetes"
        );
        assert_contains_all(
            &config_template(&b.world, ns),
            &["memory_limit = \"512Mi\"", &format!("namespace = \"{ns}\"")],
        );
        assert!(
            b.world.get_json("secret", ns, "gitlab-runner-certs").is_none(),
            "dev trusts the system store: no cert Secret"
        );
    });

    bench.exercise("environments/staging", no_vars, |b, _, ns| {
        assert!(config_toml(&b.world, ns).contains("concurrent = 6"));
        assert_eq!(
            b.deployment(ns)["spec"]["template"]["metadata"]["annotations"]["gitlab-runner.example.com/tags"],
            "staging,kubernetes"
        );
        assert_contains_all(
            &config_template(&b.world, ns),
            &["cpu_limit = \"1\"", "memory_limit = \"2Gi\""],
        );
    });

    let job_namespace = bench.world.create_namespace("ci-jobs-prod");
    bench.exercise(
        "environments/prod",
        |_, _| {
            vec![
                ("gitlab_ca_file", hcl_string(&pem_file.display().to_string())),
                ("job_namespace", hcl_string(&job_namespace)),
                ("cache_bucket", hcl_string("runner-cache")),
                ("cache_s3_access_key", hcl_string("AKIAPRODCACHE")),
                ("cache_s3_secret_key", hcl_string("prod-cache-secret-key")),
            ]
        },
        |b, dir, ns| {
            assert!(config_toml(&b.world, ns).contains("concurrent = 20"));
            let deployment = b.deployment(ns);
            assert_eq!(deployment["spec"]["replicas"], 2);
            assert_eq!(
                deployment["spec"]["template"]["metadata"]["annotations"]["gitlab-runner.example.com/tags"],
                "prod,kubernetes,docker"
            );
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(container["resources"]["requests"]["memory"], "256Mi");
            assert_certs_mounted(&deployment);
            assert_eq!(
                secret_value(&b.world, ns, "gitlab-runner-certs", "gitlab.example.com.crt")
                    .as_deref(),
                Some(pem.as_str())
            );
            assert_contains_all(
                &config_template(&b.world, ns),
                &[
                    &format!("namespace = \"{job_namespace}\""),
                    "memory_limit = \"4Gi\"",
                    "\"node-role.example.com/ci\" = \"true\"",
                ],
            );
            // Jobs in another namespace: the chart's cluster-wide RBAC.
            let values = helm_values(&b.world, ns);
            assert_eq!(values["rbac"]["clusterWideAccess"], true);
            // The module's optional cache: its Secret, the chart value and the digests that
            // roll the manager on a rotated key or renewed CA; no key in state.
            assert_eq!(
                secret_value(&b.world, ns, "gitlab-runner-cache", "secretkey").as_deref(),
                Some("prod-cache-secret-key")
            );
            assert_eq!(values["runners"]["cache"]["secretName"], "gitlab-runner-cache");
            let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
            for name in ["gitlabrunner.io/cache-digest", "gitlabrunner.io/certs-digest"] {
                assert!(
                    annotations[name].as_str().is_some_and(|d| d.starts_with("sha256:")),
                    "{name}: {annotations}"
                );
            }
            let state = b.tree.state_raw(dir);
            assert!(!state.contains("prod-cache-secret-key") && !state.contains("AKIAPRODCACHE"));
        },
    );
}

// ---------------------------------------------------------------------------------------------
// scheduled drift detection

/// The `drift-detection` job of `examples/drift-detection/.gitlab-ci.yml`.
fn drift_job() -> serde_yaml_ng::Value {
    let text = fs::read_to_string(examples_root().join("drift-detection/.gitlab-ci.yml"))
        .expect("read .gitlab-ci.yml");
    let pipeline: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    pipeline["drift-detection"].clone()
}

fn script_lines(job: &serde_yaml_ng::Value, key: &str) -> Vec<String> {
    job[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("{key} is a list"))
        .iter()
        .map(|l| l.as_str().expect("script line").to_owned())
        .collect()
}

#[test]
fn drift_pipeline_runs_only_on_schedule_and_installs_from_a_filesystem_mirror() {
    let job = drift_job();
    let rules = job["rules"].as_sequence().expect("rules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(
        rules[0]["if"].as_str(),
        Some("$CI_PIPELINE_SOURCE == \"schedule\"")
    );
    let before = script_lines(&job, "before_script").join("\n");
    assert_contains_all(
        &before,
        &[
            "filesystem_mirror",
            "registry.terraform.io/gitlabrunner/gitlabrunner",
            "exclude = [\"registry.terraform.io/gitlabrunner/*\"]",
            "TF_CLI_CONFIG_FILE",
        ],
    );
    let script = script_lines(&job, "script").join("\n");
    assert!(
        script.contains("drift-detection/drift-check.sh"),
        "{script}"
    );
    let check = fs::read_to_string(examples_root().join("drift-detection/drift-check.sh"))
        .expect("read drift-check.sh");
    assert!(check.contains("plan -detailed-exitcode"), "{check}");
    assert_eq!(
        job["artifacts"]["paths"][0].as_str(),
        Some("drift-report.txt")
    );
}

/// Builds what the job's `before_script` builds: the packed provider zip in the mirror (the
/// job downloads it; here it is zipped from this build) and the CLI configuration, written by
/// running the job's own heredoc line.
fn install_like_the_pipeline(project_dir: &Path, provider: &Path) -> PathBuf {
    let job = drift_job();
    let version = env!("CARGO_PKG_VERSION");
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mirror = project_dir.join(".provider-mirror");
    let provider_dir = mirror.join("registry.terraform.io/gitlabrunner/gitlabrunner");
    fs::create_dir_all(&provider_dir).expect("mirror layout");
    let zip = provider_dir.join(format!(
        "terraform-provider-gitlabrunner_{version}_{os}_{arch}.zip"
    ));
    let zipped = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile\n\
             z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\n\
             i=zipfile.ZipInfo(sys.argv[3]);i.external_attr=0o755<<16\n\
             z.writestr(i,open(sys.argv[2],'rb').read(),zipfile.ZIP_DEFLATED);z.close()",
        ])
        .arg(&zip)
        .arg(provider)
        .arg(format!("terraform-provider-gitlabrunner_v{version}"))
        .output()
        .expect("python3 zips the provider");
    assert!(
        zipped.status.success(),
        "zip: {}",
        String::from_utf8_lossy(&zipped.stderr)
    );
    let heredoc = script_lines(&job, "before_script")
        .into_iter()
        .find(|l| l.contains("provider_installation"))
        .expect("the before_script line writing the CLI configuration");
    let out = Command::new("sh")
        .args(["-c", &heredoc])
        .env("CI_PROJECT_DIR", project_dir)
        .env("PROVIDER_MIRROR", &mirror)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "the job's CLI config line failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_config = project_dir.join(".tofurc");
    assert!(cli_config.is_file(), "the job's line wrote no .tofurc");
    cli_config
}

struct DriftCheck {
    code: i32,
    output: String,
    report: String,
}

/// The project access token the drift check opens issues with (only ever sent to the recorder).
const ISSUE_TOKEN: &str = "glpat-drift-issues-0123456";

/// Runs the job's `script` line in the project directory with `TF_ROOT` = `root`; with
/// `issues`, `DRIFT_ISSUE_TOKEN` and the CI variables point the issue calls at the recorder.
fn run_drift_check(
    project_dir: &Path,
    cli_config: &Path,
    terraform: &Path,
    root: &str,
    issues: Option<&IssueRecorder>,
) -> DriftCheck {
    let script = script_lines(&drift_job(), "script").join("\n");
    let report = project_dir.join("drift-report.txt");
    let _ = fs::remove_file(&report);
    let mut command = Command::new("sh");
    if let Some(recorder) = issues {
        command
            .env("DRIFT_ISSUE_TOKEN", ISSUE_TOKEN)
            .env("CI_API_V4_URL", format!("{}/api/v4", recorder.url))
            .env("CI_PROJECT_ID", "7")
            .env(
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/acme/infra/-/pipelines/99",
            );
    } else {
        command.env_remove("DRIFT_ISSUE_TOKEN");
    }
    let out = command
        .args(["-c", &script])
        .current_dir(project_dir)
        .env("TF_ROOT", root)
        .env("TF", terraform)
        .env("TF_CLI_CONFIG_FILE", cli_config)
        .env("TF_VAR_runner_token", RUNNER_TOKEN)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("sh runs the drift check");
    DriftCheck {
        code: out.status.code().unwrap_or(-1),
        output: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        report: fs::read_to_string(&report).unwrap_or_default(),
    }
}

#[test]
fn scheduled_drift_check_exits_2_after_out_of_band_changes() {
    let mut bench = Bench::start();
    let root = "environments/dev";
    let project_dir = bench.tree.workdir.path().to_path_buf();
    let cli_config = install_like_the_pipeline(&project_dir, &bench.world.tools().provider);
    // From here on, everything installs the provider from the mirror, as the pipeline does.
    bench
        .tree
        .workdir
        .set_env("TF_CLI_CONFIG_FILE", cli_config.display().to_string());
    let namespace = bench.world.create_namespace("drift");
    bench
        .tree
        .write_vars(&bench.world, &bench.gitlab, root, &namespace, &[]);
    let init = bench.tree.run(root, &["init", "-input=false", "-no-color"]);
    init.success();
    assert!(
        init.stdout.contains("Installed gitlabrunner/gitlabrunner"),
        "the provider did not come from the mirror: {init:?}"
    );
    bench.tree.apply(root).success();
    let terraform = bench.world.tools().terraform.clone();

    let clean = run_drift_check(&project_dir, &cli_config, &terraform, root, None);
    assert_eq!(clean.code, 0, "no drift expected yet:\n{}", clean.output);
    assert!(clean.output.contains("no drift"), "{}", clean.output);

    // Out of band 1: someone edits the chart's ConfigMap (as `kubectl edit` would).
    kubectl_ok(
        &bench.world,
        &[
            "patch",
            "configmap",
            RELEASE,
            "-n",
            &namespace,
            "--type=merge",
            "-p",
            r#"{"data":{"runner-name":"edited-by-hand"}}"#,
        ],
    );
    let drift = run_drift_check(&project_dir, &cli_config, &terraform, root, None);
    assert_eq!(drift.code, 2, "drift must exit 2:\n{}", drift.output);
    assert!(drift.output.contains("DRIFT"), "{}", drift.output);
    assert!(
        drift.report.contains("drifted_objects") && drift.report.contains("ConfigMap"),
        "the report names the edited object:\n{}",
        drift.report
    );
    assert!(
        !drift.report.contains(RUNNER_TOKEN),
        "the token is in the report"
    );
    assert!(
        !project_dir.join(root).join("drift.tfplan").exists(),
        "the plan file must not be left behind"
    );

    // Repaired by apply: clean again.
    bench.tree.apply(root).success();
    let repaired = run_drift_check(&project_dir, &cli_config, &terraform, root, None);
    assert_eq!(repaired.code, 0, "{}", repaired.output);

    // Out of band 2: the token Secret is rewritten by hand.
    kubectl_ok(
        &bench.world,
        &[
            "patch",
            "secret",
            "gitlab-runner-token",
            "-n",
            &namespace,
            "--type=merge",
            "-p",
            r#"{"stringData":{"runner-token":"glrt-t1_NotTheConfiguredToken"}}"#,
        ],
    );
    let token_drift = run_drift_check(&project_dir, &cli_config, &terraform, root, None);
    assert_eq!(token_drift.code, 2, "{}", token_drift.output);
    assert!(
        token_drift.report.contains("gitlabrunner_token_secret")
            && token_drift.report.contains("runner-token"),
        "the report names the token Secret's key:\n{}",
        token_drift.report
    );
    assert!(
        !token_drift.report.contains("glrt-t1_NotTheConfiguredToken"),
        "a token value is in the report"
    );

    bench.tree.destroy(root).success();
    assert!(
        bench
            .world
            .get_json("deployment", &namespace, RELEASE)
            .is_none()
    );
}
