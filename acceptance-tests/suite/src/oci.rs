//! Publishing the fixture chart into the OCI registry test server with real helm: `helm package`,
//! `helm registry login` (password on stdin) and `helm push`, from a private helm HOME so the
//! login lasts for the pushes that follow and nothing is shared between tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use oci_registry_test_server::TestRegistry;
use tempfile::TempDir;

/// Real helm with a HOME of its own, talking to one registry.
pub struct ChartPublisher {
    helm: PathBuf,
    home: TempDir,
    registry_host: String,
    /// `--plain-http` or `--ca-file <registry CA>`.
    transport: Vec<String>,
}

impl ChartPublisher {
    /// A publisher for `registry`, trusting its CA (written into the private HOME) when it
    /// serves TLS.
    pub fn new(helm: &Path, registry: &TestRegistry) -> ChartPublisher {
        let home = tempfile::tempdir().expect("helm home");
        let transport = match registry.ca_pem() {
            Some(pem) => {
                let ca = home.path().join("registry-ca.pem");
                std::fs::write(&ca, pem).expect("write registry CA");
                vec![
                    "--ca-file".to_owned(),
                    ca.to_str().expect("utf-8 temp path").to_owned(),
                ]
            }
            None => vec!["--plain-http".to_owned()],
        };
        ChartPublisher {
            helm: helm.to_path_buf(),
            home,
            registry_host: registry.host(),
            transport,
        }
    }

    /// Runs helm with the private HOME; `stdin` is written to it (for `--password-stdin`).
    pub fn helm(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let root = self.home.path();
        let mut child = Command::new(&self.helm)
            .args(args)
            .env("HOME", root)
            .env("HELM_CACHE_HOME", root.join("cache"))
            .env("HELM_CONFIG_HOME", root.join("config"))
            .env("HELM_DATA_HOME", root.join("data"))
            .env("HELM_REGISTRY_CONFIG", root.join("registry.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("helm runs");
        let mut pipe = child.stdin.take().expect("helm stdin");
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).expect("write helm stdin");
        }
        drop(pipe);
        child.wait_with_output().expect("helm finishes")
    }

    /// `helm registry login` with the password on stdin.
    pub fn login(&self, username: &str, password: &str) {
        let mut args = vec![
            "registry",
            "login",
            self.registry_host.as_str(),
            "--username",
            username,
            "--password-stdin",
        ];
        args.extend(self.transport.iter().map(String::as_str));
        succeeded(&self.helm(&args, Some(password)), "helm registry login");
    }

    /// `helm package` of `chart_dir` into `out_dir`; the archive's path.
    pub fn package(&self, chart_dir: &Path, out_dir: &Path) -> PathBuf {
        let out = self.helm(
            &[
                "package",
                chart_dir.to_str().expect("utf-8 chart path"),
                "-d",
                out_dir.to_str().expect("utf-8 out dir"),
            ],
            None,
        );
        succeeded(&out, "helm package");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let archive = stdout
            .trim()
            .rsplit(": ")
            .next()
            .map(PathBuf::from)
            .unwrap_or_default();
        assert!(
            archive.is_file(),
            "helm package named no archive that exists: {stdout}"
        );
        archive
    }

    /// `helm push <archive> oci://<registry>/<namespace>`.
    pub fn push(&self, archive: &Path, namespace: &str) {
        let destination = format!("oci://{}/{namespace}", self.registry_host);
        let mut args = vec![
            "push",
            archive.to_str().expect("utf-8 archive path"),
            destination.as_str(),
        ];
        args.extend(self.transport.iter().map(String::as_str));
        succeeded(&self.helm(&args, None), "helm push");
    }

    /// Packages `chart_dir` and pushes it under `namespace` (e.g. `charts`).
    pub fn publish(&self, chart_dir: &Path, namespace: &str) {
        let scratch = tempfile::tempdir().expect("package dir");
        let archive = self.package(chart_dir, scratch.path());
        self.push(&archive, namespace);
    }
}

#[track_caller]
fn succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
