//! Throw-away Terraform working directories that load our provider through `dev_overrides`.
//!
//! With `dev_overrides`, `plan`/`apply`/`destroy`/`import` work without `terraform init` and
//! without network. Every working directory gets its own CLI configuration, plugin cache and log
//! file, so tests run in parallel without sharing anything.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The provider's source address, written with its host so one configuration serves both
/// Terraform and OpenTofu (OpenTofu's default registry host differs).
pub const PROVIDER_SOURCE: &str = "registry.terraform.io/gitlabrunner/gitlabrunner";

/// How long one CLI command may run before the harness kills it and fails the test.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A temporary directory holding a Terraform configuration, its state and its logs.
pub struct TerraformWorkdir {
    dir: TempDir,
    cli: PathBuf,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

/// The result of one CLI command.
#[derive(Clone)]
pub struct TerraformRun {
    pub args: Vec<String>,
    /// The exit code; `-1` when the process was killed.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Debug for TerraformRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl TerraformRun {
    /// Panics with the whole output unless the command exited 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panics with the whole output unless the command exited `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        self
    }

    /// stdout and stderr together (diagnostics go to stderr, plans to stdout).
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl TerraformWorkdir {
    /// A new working directory for `cli` (a `terraform` or `tofu` binary) loading the provider
    /// binary at `provider_bin`.
    pub fn new(cli: &Path, provider_bin: &Path) -> TerraformWorkdir {
        let dir = tempfile::Builder::new()
            .prefix("tf-acc-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let provider_dir = provider_bin
            .parent()
            .unwrap_or_else(|| panic!("provider binary {} has no parent", provider_bin.display()));
        let cli_config = dir.path().join(".terraformrc");
        let config = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        );
        fs::write(&cli_config, config).unwrap_or_else(|e| panic!("cannot write CLI config: {e}"));
        let mut env = BTreeMap::new();
        env.insert(
            "TF_CLI_CONFIG_FILE".into(),
            cli_config.display().to_string(),
        );
        env.insert("CHECKPOINT_DISABLE".into(), "1".into());
        env.insert("TF_IN_AUTOMATION".into(), "1".into());
        env.insert(
            "TF_LOG_PATH".into(),
            dir.path().join("terraform.log").display().to_string(),
        );
        env.insert("TF_LOG".into(), "debug".into());
        TerraformWorkdir {
            dir,
            cli: cli.to_path_buf(),
            env,
            timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets an environment variable for every later command.
    pub fn set_env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_string(), value.into());
        self
    }

    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Writes (or replaces) a file in the working directory, e.g. `main.tf`.
    pub fn write(&self, name: &str, contents: &str) -> &Self {
        fs::write(self.dir.path().join(name), contents)
            .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        self
    }

    pub fn remove(&self, name: &str) -> &Self {
        let _ = fs::remove_file(self.dir.path().join(name));
        self
    }

    /// The CLI command for `args` in this working directory with its environment, not started
    /// (for tests that signal or kill it while it runs; stdio is left to the caller).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cli);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("TF_CLI_CONFIG_FILE")
            .envs(&self.env);
        cmd
    }

    /// Runs the CLI with `args` (plus `-no-color` where the command takes it).
    pub fn run(&self, args: &[&str]) -> TerraformRun {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.cli.display()));
        let mut stdout = child.stdout.take().map(drain_in_background);
        let mut stderr = child.stderr.take().map(drain_in_background);
        let deadline = Instant::now() + self.timeout;
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code().unwrap_or(-1),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break -1;
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("waiting for {}: {e}", self.cli.display()),
            }
        };
        let collect = |h: &mut Option<thread::JoinHandle<String>>| {
            h.take().and_then(|h| h.join().ok()).unwrap_or_default()
        };
        TerraformRun {
            args: args.iter().map(|s| s.to_string()).collect(),
            code,
            stdout: collect(&mut stdout),
            stderr: collect(&mut stderr),
        }
    }

    pub fn validate(&self) -> TerraformRun {
        self.run(&["validate", "-no-color"])
    }

    pub fn apply(&self) -> TerraformRun {
        self.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `plan -detailed-exitcode`: 0 = no changes, 1 = error, 2 = changes.
    pub fn plan(&self) -> TerraformRun {
        self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
    }

    pub fn destroy(&self) -> TerraformRun {
        self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn import(&self, address: &str, id: &str) -> TerraformRun {
        self.run(&["import", "-input=false", "-no-color", address, id])
    }

    /// The raw state file (empty when there is none yet).
    pub fn state_raw(&self) -> String {
        fs::read_to_string(self.dir.path().join("terraform.tfstate")).unwrap_or_default()
    }

    /// The state file parsed as JSON (`null` when there is none yet).
    pub fn state(&self) -> serde_json::Value {
        let raw = self.state_raw();
        if raw.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&raw).unwrap_or_else(|e| panic!("state is not JSON: {e}"))
    }

    /// The attributes of the resource instance at `address` (e.g. `gitlabrunner_token_secret.x`).
    pub fn resource_attributes(&self, address: &str) -> Option<serde_json::Value> {
        let (rtype, name) = address.split_once('.')?;
        let state = self.state();
        state["resources"]
            .as_array()?
            .iter()
            .find(|r| r["type"] == rtype && r["name"] == name && r["mode"] == "managed")
            .and_then(|r| r["instances"].get(0))
            .map(|i| i["attributes"].clone())
    }

    /// Everything Terraform logged (at the `TF_LOG` level set for this workdir, debug by default),
    /// including every line our provider wrote to stderr.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("terraform.log")).unwrap_or_default()
    }
}

fn drain_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Terraform wraps diagnostics at about 78 columns and boxes them (`│ `): the text with the box
/// bar dropped and every run of whitespace as one space, so tests can look for whole sentences.
pub fn unfolded(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
