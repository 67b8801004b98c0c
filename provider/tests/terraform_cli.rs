//! The real `terraform` CLI loads the built provider through `dev_overrides` (no network, no
//! `init`) and talks to it over AutoMTLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SOURCE: &str = "registry.terraform.io/gitlabrunner/gitlabrunner";

fn terraform() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("terraform"))
        .find(|candidate| candidate.is_file())
}

struct Workdir {
    dir: tempfile::TempDir,
    terraform: PathBuf,
}

impl Workdir {
    fn new(terraform: PathBuf, main_tf: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        let provider_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-gitlabrunner"))
            .parent()
            .unwrap();
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir.display()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        Workdir { dir, terraform }
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Runs terraform with a debug log in `<name>.log`.
    fn run(&self, name: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_LOG", "debug")
            .env("TF_LOG_PATH", self.log_path(name))
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("KUBECONFIG");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A provider block as users of the hashicorp providers write it; `host` comes from a resource
/// that is only known after apply (`terraform_data`), as for a cluster created in the same run.
const CONFIG: &str = r#"
terraform {
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

resource "terraform_data" "cluster" {
  input = "https://127.0.0.1:6443"
}

provider "gitlabrunner" {
  helm_path = "helm"
  kubernetes {
    host                   = terraform_data.cluster.output
    token                  = "not-a-real-token"
    cluster_ca_certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    insecure               = false
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", "demo"]
      env         = { AWS_PROFILE = "demo" }
    }
  }
  gitlab {
    base_url = "https://gitlab.example.com"
  }
}
"#;

macro_rules! require_terraform {
    () => {
        match terraform() {
            Some(t) => t,
            None => {
                eprintln!("\n\n!!!!! SKIPPED: `terraform` is not on PATH; this test needs Terraform 1.11.x !!!!!\n\n");
                return;
            }
        }
    };
}

#[test]
fn terraform_validates_and_plans_with_the_provider_block_and_shuts_it_down_gracefully() {
    let terraform = require_terraform!();
    let work = Workdir::new(terraform, CONFIG);

    let validate = work.run("validate", &["validate", "-no-color"], &[]);
    assert!(
        validate.status.success(),
        "validate failed:\n{}",
        show(&validate)
    );
    assert!(String::from_utf8_lossy(&validate.stdout).contains("The configuration is valid"));

    let plan = work.run("plan", &["plan", "-no-color", "-input=false"], &[]);
    assert!(plan.status.success(), "plan failed:\n{}", show(&plan));
    let plan_out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan_out.contains("terraform_data.cluster will be created"),
        "{}",
        show(&plan)
    );

    for name in ["validate", "plan"] {
        let log = work.log(name);
        assert!(
            log.contains("terraform-provider-gitlabrunner"),
            "{name}: our plugin was not started:\n{log}"
        );
        assert!(
            !log.contains("plugin failed to exit gracefully"),
            "{name}: Terraform had to kill the provider (no prompt exit after Shutdown):\n{log}"
        );
        assert!(
            !log.contains("not-a-real-token"),
            "{name}: a secret reached the log"
        );
    }
    // Note: Terraform validates and configures a provider only for resources and data sources
    // that use it; with none in this configuration, validate/plan exercise the schema, AutoMTLS
    // and shutdown (grpc_mtls.rs drives ValidateProviderConfig/ConfigureProvider directly).
    // The provider ran with TLS: go-plugin logs the negotiated protocol and the plugin address.
    let plan_log = work.log("plan");
    assert!(plan_log.contains("using plugin: version=6"), "{plan_log}");
    assert!(
        plan_log.contains("configuring client automatic mTLS"),
        "AutoMTLS was not on:\n{plan_log}"
    );
}

#[test]
fn terraform_providers_schema_lists_the_provider_and_its_kubernetes_block() {
    let terraform = require_terraform!();
    let work = Workdir::new(terraform, CONFIG);
    let out = work.run("schema", &["providers", "schema", "-json"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema JSON");
    let provider = &json["provider_schemas"][SOURCE]["provider"]["block"];
    assert!(provider.is_object(), "provider missing: {json}");
    let kubernetes = &provider["block_types"]["kubernetes"];
    assert_eq!(kubernetes["nesting_mode"], "list");
    assert_eq!(kubernetes["max_items"], 1);
    assert_eq!(
        kubernetes["block"]["attributes"]["token"]["sensitive"],
        true
    );
    assert_eq!(
        kubernetes["block"]["block_types"]["exec"]["nesting_mode"],
        "list"
    );
    assert_eq!(
        provider["block_types"]["gitlab"]["block"]["attributes"]["token"]["sensitive"],
        true
    );
    assert_eq!(provider["attributes"]["helm_path"]["type"], "string");
    assert!(
        !work
            .log("schema")
            .contains("plugin failed to exit gracefully")
    );
}

/// With a resource of ours in the configuration, Terraform validates and configures the
/// provider too: a `host` unknown until apply must not fail, a write-only token must be accepted
/// (Terraform 1.11 announces the capability), and no secret may reach even a trace log.
const CONFIG_WITH_RESOURCE: &str = r#"
terraform {
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

resource "terraform_data" "cluster" {
  input = "https://127.0.0.1:1"
}

provider "gitlabrunner" {
  kubernetes {
    host  = terraform_data.cluster.output
    token = "not-a-real-token"
  }
  gitlab {
    base_url = "https://gitlab.example.com"
    token    = "glpat-not-a-real-token"
  }
}

resource "gitlabrunner_token_secret" "runner" {
  name            = "runner-token"
  namespace       = "ci"
  runner_token_wo = "glrt-not-a-real-token"
}
"#;

#[test]
fn terraform_configures_the_provider_with_an_unknown_host_and_plans_a_write_only_token() {
    let terraform = require_terraform!();
    let work = Workdir::new(terraform, CONFIG_WITH_RESOURCE);
    let plan = work.run(
        "plan",
        &["plan", "-no-color", "-input=false"],
        &[("TF_LOG", "trace")],
    );
    assert!(plan.status.success(), "plan failed:\n{}", show(&plan));
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        stdout.contains("runner_token_wo = (write-only attribute)"),
        "{}",
        show(&plan)
    );
    let log = work.log("plan");
    for rpc in [
        "ValidateProviderConfig",
        "ConfigureProvider",
        "ValidateResourceConfig",
        "PlanResourceChange",
    ] {
        assert!(
            log.contains(&format!("GRPCProvider.v6: {rpc}")),
            "{rpc} was not called:\n{log}"
        );
    }
    for secret in [
        "not-a-real-token",
        "glpat-not-a-real-token",
        "glrt-not-a-real-token",
    ] {
        assert!(!log.contains(secret), "a secret reached the trace log");
        assert!(!stdout.contains(secret), "a secret reached the plan output");
    }
    assert!(!log.contains("plugin failed to exit gracefully"), "{log}");
}

#[test]
fn terraform_shows_provider_validation_errors_at_the_attribute() {
    let terraform = require_terraform!();
    let config = CONFIG_WITH_RESOURCE.replace("https://gitlab.example.com", "gitlab.example.com");
    let work = Workdir::new(terraform, &config);
    let out = work.run("invalid", &["validate", "-no-color"], &[]);
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Invalid GitLab URL"), "{}", show(&out));
    assert!(stderr.contains("base_url"), "{}", show(&out));
}
