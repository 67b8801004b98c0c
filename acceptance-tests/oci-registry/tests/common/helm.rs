//! A real helm binary (helm 4 or helm 3) with a private home, and the registry commands the
//! tests run with it: login, logout, push, show, pull.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{fixture_chart, workspace_root};

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

/// How helm reaches the registry: the flags each registry command gets.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `--plain-http`.
    PlainHttp,
    /// HTTPS trusting the CA in this file: `--ca-file FILE`.
    CaFile(PathBuf),
    /// HTTPS trusting only the system roots: no flag at all.
    SystemRoots,
    /// HTTPS without checking the certificate: `--insecure-skip-tls-verify`.
    SkipVerify,
}

impl Transport {
    fn flags(&self) -> Vec<String> {
        match self {
            Transport::PlainHttp => vec!["--plain-http".into()],
            Transport::CaFile(file) => vec!["--ca-file".into(), path_arg(file)],
            Transport::SystemRoots => Vec::new(),
            Transport::SkipVerify => vec!["--insecure-skip-tls-verify".into()],
        }
    }
}

/// Which chart version a pull asks for.
#[derive(Debug, Clone, Copy)]
pub enum ChartVersion<'a> {
    /// `--version V`.
    Exact(&'a str),
    /// No version flag: the newest stable tag, or what the reference itself names (`@digest`).
    Unpinned,
    /// `--devel`: the newest tag, pre-releases included.
    Devel,
}

impl ChartVersion<'_> {
    fn flags(self) -> Vec<String> {
        match self {
            ChartVersion::Exact(version) => vec!["--version".into(), version.into()],
            ChartVersion::Unpinned => Vec::new(),
            ChartVersion::Devel => vec!["--devel".into()],
        }
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

/// `words` followed by the transport's flags.
fn registry_args(words: &[&str], transport: &Transport) -> Vec<String> {
    let mut args: Vec<String> = words.iter().map(|word| word.to_string()).collect();
    args.extend(transport.flags());
    args
}

fn push_args(archive: &Path, destination: &str, transport: &Transport) -> Vec<String> {
    registry_args(&["push", &path_arg(archive), destination], transport)
}

fn show_chart_args(chart_ref: &str, version: &str, transport: &Transport) -> Vec<String> {
    registry_args(
        &["show", "chart", chart_ref, "--version", version],
        transport,
    )
}

/// stdout followed by stderr.
fn combined_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts helm's output reports an HTTP 401.
#[track_caller]
pub fn assert_unauthorized(output: &str) {
    assert!(
        output.contains("401") || output.to_lowercase().contains("unauthorized"),
        "expected a 401 in:\n{output}"
    );
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

    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
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
    pub fn run_with_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &str) -> Output {
        let mut child = self.command(args).spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.run_with_stdin(args, "")
    }

    /// Runs helm, asserts whether it succeeded, and returns stdout + stderr.
    #[track_caller]
    fn run_expecting<S: AsRef<OsStr> + Debug>(&self, args: &[S], success: bool) -> String {
        let out = self.run(args);
        let text = combined_output(&out);
        let verdict = if success {
            "failed"
        } else {
            "unexpectedly succeeded"
        };
        assert_eq!(
            out.status.success(),
            success,
            "{:?} helm {args:?} {verdict}:\n{text}",
            self.version
        );
        text
    }

    /// Runs helm and returns stdout + stderr, failing the test on a non-zero exit.
    #[track_caller]
    pub fn ok<S: AsRef<OsStr> + Debug>(&self, args: &[S]) -> String {
        self.run_expecting(args, true)
    }

    /// Runs helm expecting failure; returns stdout + stderr.
    #[track_caller]
    pub fn fails<S: AsRef<OsStr> + Debug>(&self, args: &[S]) -> String {
        self.run_expecting(args, false)
    }

    /// `helm registry login HOST --username USER --password-stdin` plus the transport flags.
    fn run_login(&self, host: &str, user: &str, password: &str, transport: &Transport) -> Output {
        let words = [
            "registry",
            "login",
            host,
            "--username",
            user,
            "--password-stdin",
        ];
        self.run_with_stdin(&registry_args(&words, transport), password)
    }

    /// Logs in to `host`, asserting helm accepts the credentials.
    #[track_caller]
    pub fn login(&self, host: &str, user: &str, password: &str, transport: &Transport) {
        let out = self.run_login(host, user, password, transport);
        assert!(
            out.status.success(),
            "{:?} helm registry login {host} failed:\n{}",
            self.version,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Tries to log in to `host`, asserting helm fails and reports a 401.
    #[track_caller]
    pub fn login_refused(&self, host: &str, user: &str, password: &str, transport: &Transport) {
        let out = self.run_login(host, user, password, transport);
        assert!(
            !out.status.success(),
            "{:?} helm registry login {host} unexpectedly succeeded",
            self.version
        );
        assert_unauthorized(&String::from_utf8_lossy(&out.stderr));
    }

    /// `helm registry logout HOST`, asserting success.
    #[track_caller]
    pub fn logout(&self, host: &str) {
        self.ok(&["registry", "logout", host]);
    }

    /// `helm push ARCHIVE DESTINATION`, asserting success; returns helm's output.
    #[track_caller]
    pub fn push(&self, archive: &Path, destination: &str, transport: &Transport) -> String {
        self.ok(&push_args(archive, destination, transport))
    }

    /// `helm push ARCHIVE DESTINATION`, asserting failure; returns helm's output.
    #[track_caller]
    pub fn push_fails(&self, archive: &Path, destination: &str, transport: &Transport) -> String {
        self.fails(&push_args(archive, destination, transport))
    }

    /// `helm show chart CHART_REF --version VERSION`, asserting success; returns the Chart.yaml.
    #[track_caller]
    pub fn show_chart(&self, chart_ref: &str, version: &str, transport: &Transport) -> String {
        self.ok(&show_chart_args(chart_ref, version, transport))
    }

    /// `helm show chart CHART_REF --version VERSION`, asserting failure; returns helm's output.
    #[track_caller]
    pub fn show_chart_fails(
        &self,
        chart_ref: &str,
        version: &str,
        transport: &Transport,
    ) -> String {
        self.fails(&show_chart_args(chart_ref, version, transport))
    }

    /// `helm pull CHART_REF … -d DIR` into a fresh directory, whose path it returns.
    fn pull_args(
        &self,
        chart_ref: &str,
        version: ChartVersion,
        transport: &Transport,
    ) -> (Vec<String>, PathBuf) {
        let into = tempfile::Builder::new()
            .prefix("pulled-")
            .tempdir_in(self.home.path())
            .unwrap()
            .keep();
        let mut args = vec!["pull".to_string(), chart_ref.to_string()];
        args.extend(version.flags());
        args.extend(transport.flags());
        args.extend(["-d".to_string(), path_arg(&into)]);
        (args, into)
    }

    /// Pulls `chart_ref` into a fresh directory, asserting success; returns the directory.
    #[track_caller]
    pub fn pull_into(
        &self,
        chart_ref: &str,
        version: ChartVersion,
        transport: &Transport,
    ) -> PathBuf {
        let (args, into) = self.pull_args(chart_ref, version, transport);
        self.ok(&args);
        into
    }

    /// Tries to pull `chart_ref` into a fresh directory, asserting failure; returns helm's output.
    #[track_caller]
    pub fn pull_fails(
        &self,
        chart_ref: &str,
        version: ChartVersion,
        transport: &Transport,
    ) -> String {
        let (args, _) = self.pull_args(chart_ref, version, transport);
        self.fails(&args)
    }

    /// Packages the fixture chart as `version` into the helm home; returns the archive path.
    pub fn package(&self, version: &str) -> PathBuf {
        let out_dir = self.dir("packages");
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

    /// A directory inside the helm home, created if missing.
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.home.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes the CA PEM into the helm home; returns the transport that trusts it.
    pub fn trust_ca(&self, pem: &str) -> Transport {
        let path = self.home.path().join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        Transport::CaFile(path)
    }
}
