//! Shared test helpers: locating real helm binaries, private helm homes, packaging the fixture
//! chart, and a small HTTP client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture chart (`gitlab-runner`, version `0.86.0-fixture`).
pub fn fixture_chart() -> PathBuf {
    workspace_root().join("acceptance-tests/charts/gitlab-runner")
}

/// Which helm major version to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmVersion {
    V4,
    V3,
}

fn helm_binary(version: HelmVersion) -> PathBuf {
    let (env, name) = match version {
        HelmVersion::V4 => ("HELM4_BIN", "helm"),
        HelmVersion::V3 => ("HELM3_BIN", "helm3"),
    };
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tools/bin").join(name));
    assert!(
        path.is_file(),
        "{} not found (set {env} or run `bash scripts/install-tools.sh`)",
        path.display()
    );
    path
}

/// A helm binary with private config, cache, data and registry-config directories.
pub struct Helm {
    pub version: HelmVersion,
    binary: PathBuf,
    pub home: tempfile::TempDir,
}

impl Helm {
    pub fn new(version: HelmVersion) -> Helm {
        Helm {
            version,
            binary: helm_binary(version),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let home = self.home.path();
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs helm with `stdin` fed in.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self.command(args).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    /// Runs helm and returns stdout + stderr, failing the test on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{:?} helm {args:?} failed:\n{text}",
            self.version
        );
        text
    }

    /// Runs helm expecting failure; returns stdout + stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "{:?} helm {args:?} unexpectedly succeeded:\n{text}",
            self.version
        );
        text
    }

    /// `helm registry login HOST --username U --password-stdin` (plus `extra`).
    pub fn login(&self, host: &str, user: &str, password: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "registry",
            "login",
            host,
            "--username",
            user,
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        self.run_with_stdin(&args, password)
    }

    /// Packages the fixture chart as `version` into the helm home; returns the archive path.
    pub fn package(&self, version: &str) -> PathBuf {
        let out_dir = self.home.path().join("packages");
        std::fs::create_dir_all(&out_dir).unwrap();
        let chart = fixture_chart();
        self.ok(&[
            "package",
            chart.to_str().unwrap(),
            "--version",
            version,
            "--destination",
            out_dir.to_str().unwrap(),
        ]);
        let archive = out_dir.join(format!("gitlab-runner-{version}.tgz"));
        assert!(archive.is_file(), "{} missing", archive.display());
        archive
    }

    /// A fresh directory inside the helm home.
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes the CA PEM into the helm home; returns its path.
    pub fn write_ca(&self, pem: &str) -> PathBuf {
        let path = self.home.path().join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }
}

/// A ureq agent that reports every status as a response and follows no redirects.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// A response read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The first error code of a spec error body.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let errors = body["errors"].as_array().expect("an errors array");
        assert!(!errors.is_empty(), "{body}");
        assert!(errors[0]["message"].is_string(), "{body}");
        assert!(errors[0].get("detail").is_some(), "{body}");
        errors[0]["code"].as_str().expect("a code").to_string()
    }
}

/// Sends one request and reads the whole answer.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(body.to_vec()).unwrap();
    let mut response = agent().run(request).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        response.body_mut().read_to_vec().unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
