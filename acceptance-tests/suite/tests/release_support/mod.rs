//! Shared pieces of the `gitlabrunner_release` acceptance tests: the seed configuration, real
//! helm runs against the test world, and object lookups.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acceptance::tools::workspace_root;
use acceptance::{KubeWorld, TerraformWorkdir};

/// The fixture chart (mirrors gitlab-runner 0.86's values interface): the air-gapped source.
pub fn chart_path() -> PathBuf {
    workspace_root().join("acceptance-tests/charts/gitlab-runner")
}

/// Copies a directory tree (the fixture chart has no symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy dir");
    for entry in std::fs::read_dir(from).expect("read chart dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy chart file");
        }
    }
}

/// A minimal release with its token Secret. `chart_lines` are the release's chart-source
/// attribute lines (`chart`, `repository`, `chart_version`, TLS and credentials).
pub fn minimal_release_config(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    chart_lines: &str,
    runner_name: &str,
) -> String {
    ReleaseHcl::new(world, helm, namespace)
        .chart_lines(chart_lines)
        .token_secret(RUNNER_TOKEN)
        .lines(&format!(
            r#"  runner_name       = "{runner_name}"
  concurrent        = 2

  runner {{
    kubernetes {{
      namespace = "{namespace}"
      image     = "alpine:3.20"
    }}
  }}

  timeout = 120"#
        ))
        .build()
}

/// The release name every release test uses.
pub const RELEASE: &str = "gitlab-runner";

/// A `runner` block with only the job image.
pub const SMALL_RUNNER: &str =
    "  runner {\n    kubernetes {\n      image = \"alpine:3.20\"\n    }\n  }";

/// The smallest release: the token Secret `runner-token` made outside Terraform (the test makes
/// it with [`create_token_secret`]), [`SMALL_RUNNER`], a 60 s helm timeout, and `extra` release
/// lines.
pub fn small_release_config(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    extra: &str,
) -> String {
    ReleaseHcl::new(world, helm, namespace)
        .lines(&format!("{SMALL_RUNNER}\n  timeout = 60\n{extra}"))
        .build()
}

/// `main.tf` of a release test: the provider block (with the test's `gitlab { … }` lines), the
/// token Secret when the test wants one, and `gitlabrunner_release.runner` — `name`,
/// `namespace`, the chart source (the fixture chart unless set), `gitlab_url`, the token
/// Secret's name (and `token_digest` with the Secret resource) — plus the test's own lines.
pub struct ReleaseHcl {
    provider: String,
    namespace: String,
    chart_lines: String,
    gitlab_url: String,
    token: Option<String>,
    token_digest: bool,
    /// `verify_runner`: set to false with a `gitlab` block unless a test asks for it — the test
    /// world's manager pods never contact GitLab.
    verify_runner: Option<bool>,
    lines: String,
}

impl ReleaseHcl {
    /// The release in `namespace`, from the fixture chart, for `https://gitlab.example.com`,
    /// with the token Secret `runner-token` made outside Terraform (the test makes it with
    /// [`create_token_secret`]) unless [`ReleaseHcl::token_secret`] is set.
    pub fn new(world: &KubeWorld, helm: &Path, namespace: &str) -> ReleaseHcl {
        ReleaseHcl {
            provider: provider_block(world, helm),
            namespace: namespace.to_owned(),
            chart_lines: format!("  chart             = \"{}\"", chart_path().display()),
            gitlab_url: "https://gitlab.example.com".to_owned(),
            token: None,
            token_digest: true,
            verify_runner: None,
            lines: String::new(),
        }
    }

    /// HCL lines inside the provider block (e.g. `  gitlab { … }`).
    pub fn gitlab_block(mut self, lines: &str) -> ReleaseHcl {
        self.provider = self.provider.replace(
            "provider \"gitlabrunner\" {\n",
            &format!("provider \"gitlabrunner\" {{\n{lines}"),
        );
        if lines.contains("gitlab {") {
            self.verify_runner.get_or_insert(false);
        }
        self
    }

    /// `verify_runner = <on>` (issue 15; without this, a `gitlab` block turns it off).
    pub fn verify_runner(mut self, on: bool) -> ReleaseHcl {
        self.verify_runner = Some(on);
        self
    }

    /// The release's chart-source lines instead of the fixture chart.
    pub fn chart_lines(mut self, lines: &str) -> ReleaseHcl {
        lines.clone_into(&mut self.chart_lines);
        self
    }

    pub fn gitlab_url(mut self, url: &str) -> ReleaseHcl {
        url.clone_into(&mut self.gitlab_url);
        self
    }

    /// A `gitlabrunner_token_secret.token` (`runner-token`) holding `token`; the release takes
    /// its name and `token_digest` from it.
    pub fn token_secret(mut self, token: &str) -> ReleaseHcl {
        self.token = Some(token.to_owned());
        self
    }

    /// With [`ReleaseHcl::token_secret`]: the release does not set `token_digest`.
    pub fn without_token_digest(mut self) -> ReleaseHcl {
        self.token_digest = false;
        self
    }

    /// The test's own release lines (attributes and blocks), after the common ones.
    pub fn lines(mut self, lines: &str) -> ReleaseHcl {
        lines.clone_into(&mut self.lines);
        self
    }

    pub fn build(&self) -> String {
        let ReleaseHcl {
            provider,
            namespace,
            chart_lines,
            gitlab_url,
            token,
            token_digest,
            verify_runner,
            lines,
        } = self;
        let verify_line = verify_runner
            .map(|on| format!("  verify_runner     = {on}\n"))
            .unwrap_or_default();
        let (token_resource, token_lines) = match token {
            Some(token) => (
                format!(
                    r#"resource "gitlabrunner_token_secret" "token" {{
  namespace    = "{namespace}"
  name         = "runner-token"
  runner_token = "{token}"
}}

"#
                ),
                if *token_digest {
                    "  token_secret_name = gitlabrunner_token_secret.token.name\n  token_digest      = gitlabrunner_token_secret.token.token_digest"
                } else {
                    "  token_secret_name = gitlabrunner_token_secret.token.name"
                },
            ),
            None => (String::new(), "  token_secret_name = \"runner-token\""),
        };
        format!(
            r#"{provider}
{token_resource}resource "gitlabrunner_release" "runner" {{
  name              = "{RELEASE}"
  namespace         = "{namespace}"
{chart_lines}
  gitlab_url        = "{gitlab_url}"
{token_lines}
{verify_line}{lines}
}}
"#
        )
    }
}

/// A runner token shaped like a real `glrt-` token (the test server never checks it).
pub const RUNNER_TOKEN: &str = "glrt-t1_AbCdEfGhIjKlMnOpQrStU";

/// The token Secret `name` in `namespace` made outside Terraform, as an operator would
/// (`kubectl create -f -`: the token on stdin, never in argv nor in a last-applied annotation),
/// holding [`RUNNER_TOKEN`] under both keys the chart's projected volume mounts. Tests whose
/// release names a Secret they do not create through `gitlabrunner_token_secret` make it with
/// this: a kubelet keeps a pod whose Secret volume is missing in `ContainerCreating`
/// (`FailedMount`), so the release would wait until its `timeout` on a real cluster.
pub fn create_token_secret(world: &KubeWorld, namespace: &str, name: &str) {
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {"runner-token": RUNNER_TOKEN, "runner-registration-token": ""},
    });
    let out = world.kubectl_stdin(&["create", "-f", "-"], &manifest.to_string());
    ok(&out, "kubectl create token Secret");
}

/// Which helm the provider drives.
#[derive(Clone, Copy, Debug)]
pub enum HelmVersion {
    Four,
    Three,
}

pub fn helm_bin(world: &KubeWorld, version: HelmVersion) -> PathBuf {
    match version {
        HelmVersion::Four => world.tools().helm4.clone(),
        HelmVersion::Three => world.tools().helm3.clone(),
    }
}

pub fn provider_block(world: &KubeWorld, helm: &Path) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    gitlabrunner = {{\n      source = \"{}\"\n    }}\n  }}\n}}\n\nprovider \"gitlabrunner\" {{\n  helm_path = \"{}\"\n  kubernetes {{\n    config_path = \"{}\"\n  }}\n}}\n",
        acceptance::PROVIDER_SOURCE,
        helm.display(),
        world.kubeconfig().display()
    )
}

/// Runs real helm against the world (private HOME so no cache is shared).
pub fn helm(world: &KubeWorld, bin: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp HOME");
    Command::new(bin)
        .args(args)
        .env("KUBECONFIG", world.kubeconfig())
        .env("HOME", home.path())
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .expect("helm runs")
}

#[track_caller]
pub fn ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed certificate for `gitlab.example.com` (PEM), made with openssl.
pub fn certificate_pem() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=gitlab.example.com",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    ok(&out, "openssl req");
    std::fs::read_to_string(cert).expect("certificate written")
}

/// The seed walkthrough's configuration: DinD privileged jobs with the `docker-certs` emptyDir in
/// memory, `allowed_images`, explicit RBAC rules, pull secrets, the token and cert Secrets from
/// the provider's own resources, a non-root (UBI) manager. `concurrent` varies per step.
pub fn seed_config(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    concurrent: u32,
    cert_pem: &str,
) -> String {
    format!(
        r#"{provider}
resource "gitlabrunner_token_secret" "token" {{
  namespace    = "{namespace}"
  name         = "runner-token"
  runner_token = "{RUNNER_TOKEN}"
}}

resource "gitlabrunner_cert_secret" "certs" {{
  namespace       = "{namespace}"
  name            = "gitlab-certs"
  gitlab_url      = "https://gitlab.example.com"
  certificate_pem = <<-PEM
{cert_pem}PEM
}}

resource "gitlabrunner_release" "runner" {{
  name              = "gitlab-runner"
  namespace         = "{namespace}"
  chart             = "{chart}"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = gitlabrunner_token_secret.token.name
  token_digest      = gitlabrunner_token_secret.token.token_digest
  cert_secret_name  = gitlabrunner_cert_secret.certs.name
  runner_name       = "k8s-runner"

  concurrent     = {concurrent}
  check_interval = 3
  log_format     = "json"

  image {{
    tag = "ubi-fips-v18.9.0"
  }}
  use_tini           = true
  image_pull_secrets = ["regcred"]

  rbac {{
    create = true
    rule {{
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "delete", "update"]
    }}
  }}
  service_account {{
    create = true
    name   = "gitlab-runner"
  }}

  pod_security_context {{
    run_as_user     = 999
    run_as_group    = 999
    fs_group        = 999
    run_as_non_root = true
  }}
  security_context {{
    run_as_non_root            = true
    allow_privilege_escalation = false
    capabilities_drop          = ["ALL"]
  }}

  runner {{
    environment = ["DOCKER_TLS_CERTDIR=/certs"]
    kubernetes {{
      namespace        = "{namespace}"
      image            = "alpine:3.20"
      privileged       = true
      allowed_images   = ["registry.example.com/*", "docker:*"]
      allowed_services = ["docker:*-dind"]
      empty_dir_volume {{
        name       = "docker-certs"
        mount_path = "/certs/client"
        medium     = "Memory"
      }}
    }}
  }}

  timeout = 120
}}
"#,
        provider = provider_block(world, helm),
        chart = chart_path().display(),
    )
}

pub fn workdir(world: &KubeWorld) -> TerraformWorkdir {
    let mut dir = TerraformWorkdir::new(&world.tools().terraform, &world.tools().provider);
    dir.set_env("TF_LOG", "info");
    dir
}

/// Attribute `name` of the release in state.
pub fn release_attr(dir: &TerraformWorkdir, name: &str) -> serde_json::Value {
    dir.resource_attributes("gitlabrunner_release.runner")
        .unwrap_or_else(|| {
            panic!(
                "no gitlabrunner_release.runner in state:\n{}",
                dir.state_raw()
            )
        })[name]
        .clone()
}
