//! Helpers for the `examples/` acceptance tests: a throw-away copy of the whole examples tree
//! (module sources are relative paths, so directories keep their places), Terraform runs in
//! one of its directories through `-chdir`, the GitLab API test server the drain talks to on
//! destroy, and small kubectl/helm/openssl helpers.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acceptance::tools::workspace_root;
use acceptance::{KubeWorld, TerraformRun, TerraformWorkdir};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gitlab_test_server::{LoggedRequest, NewRunner, Seed, TestServer, TokenSpec};

/// The runner token every example gets (shaped like a real `glrt-` token).
pub const RUNNER_TOKEN: &str = "glrt-t1_ExAmPlEsToKeN0123456";
/// The API token the drain uses on destroy (`GITLAB_TOKEN`).
pub const ADMIN_TOKEN: &str = "glpat-examples-admin-0123456";
/// The name the GitLab test server logs for [`ADMIN_TOKEN`].
pub const ADMIN_TOKEN_NAME: &str = "examples-admin";
/// The GitLab URL the runner is configured with (it never connects in the test world).
pub const GITLAB_URL: &str = "https://gitlab.example.com";
/// `version` in the fixture chart's Chart.yaml: the examples pin a chart version.
pub const FIXTURE_CHART_VERSION: &str = "0.86.0-fixture";
/// The release name every example uses.
pub const RELEASE: &str = "gitlab-runner";

pub fn examples_root() -> PathBuf {
    workspace_root().join("examples")
}

pub fn chart_path() -> PathBuf {
    workspace_root().join("acceptance-tests/charts/gitlab-runner")
}

/// Every directory under `examples/` holding a `.tf` file, relative to `examples/`, sorted.
pub fn terraform_dirs() -> Vec<PathBuf> {
    let root = examples_root();
    let mut found = Vec::new();
    walk(&root, &mut |dir| {
        let has_tf = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "tf"))
            })
            .unwrap_or(false);
        if has_tf {
            found.push(dir.strip_prefix(&root).expect("under root").to_path_buf());
        }
    });
    found.sort();
    found
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    visit(dir);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != ".terraform"))
        .collect();
    subdirs.sort();
    for sub in subdirs {
        walk(&sub, visit);
    }
}

/// The `.tf` sources of one example directory, concatenated.
pub fn sources(dir: &Path) -> String {
    let mut text = String::new();
    for entry in fs::read_dir(examples_root().join(dir))
        .expect("read example dir")
        .flatten()
    {
        if entry.path().extension().is_some_and(|x| x == "tf") {
            text.push_str(&fs::read_to_string(entry.path()).expect("read .tf"));
            text.push('\n');
        }
    }
    text
}

/// A private copy of `examples/` in a Terraform working directory; commands run in one of its
/// directories with `-chdir`, so each has its own state file.
pub struct ExampleTree {
    pub workdir: TerraformWorkdir,
}

impl ExampleTree {
    /// Copies the examples tree; Terraform loads the provider through `dev_overrides`.
    pub fn new(world: &KubeWorld) -> ExampleTree {
        let mut workdir = TerraformWorkdir::new(&world.tools().terraform, &world.tools().provider);
        // Info, not debug: the provider's own lines are kept, the log stays small.
        workdir.set_env("TF_LOG", "info");
        workdir.set_env("TF_VAR_runner_token", RUNNER_TOKEN);
        workdir.set_env("GITLAB_TOKEN", ADMIN_TOKEN);
        // The drain's API (`gitlab_api_url`, the test server on 127.0.0.1) is on another host
        // than the runners' `gitlab_url` (GITLAB_URL, never contacted): say that this is meant.
        workdir.set_env("GITLAB_ALLOW_DIFFERENT_HOST", "true");
        copy_tree(&examples_root(), workdir.path());
        ExampleTree { workdir }
    }

    pub fn path(&self, dir: &str) -> PathBuf {
        self.workdir.path().join(dir)
    }

    /// Runs `terraform -chdir=<dir> <args…>`.
    pub fn run(&self, dir: &str, args: &[&str]) -> TerraformRun {
        let chdir = format!("-chdir={dir}");
        let mut all = vec![chdir.as_str()];
        all.extend_from_slice(args);
        self.workdir.run(&all)
    }

    /// `terraform get`: installs local module sources (no provider download, works offline).
    pub fn get_modules(&self, dir: &str) -> TerraformRun {
        self.run(dir, &["get", "-no-color"])
    }

    pub fn apply(&self, dir: &str) -> TerraformRun {
        self.run(
            dir,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        )
    }

    pub fn plan(&self, dir: &str) -> TerraformRun {
        self.run(
            dir,
            &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
        )
    }

    pub fn destroy(&self, dir: &str) -> TerraformRun {
        self.run(
            dir,
            &["destroy", "-auto-approve", "-input=false", "-no-color"],
        )
    }

    /// The raw state file of one directory.
    pub fn state_raw(&self, dir: &str) -> String {
        fs::read_to_string(self.path(dir).join("terraform.tfstate")).unwrap_or_default()
    }

    /// Writes `test.auto.tfvars` into `dir`: the connection to `world`, helm, the fixture
    /// chart, GitLab's API for the drain, the namespace, plus `extra` (name, HCL expression).
    pub fn write_vars(
        &self,
        world: &KubeWorld,
        gitlab: &GitlabWorld,
        dir: &str,
        namespace: &str,
        extra: &[(&str, String)],
    ) {
        let mut vars = vec![
            (
                "kubeconfig",
                hcl_string(&world.kubeconfig().display().to_string()),
            ),
            (
                "helm_path",
                hcl_string(&world.tools().helm4.display().to_string()),
            ),
            ("chart", hcl_string(&chart_path().display().to_string())),
            ("chart_version", hcl_string(FIXTURE_CHART_VERSION)),
            ("namespace", hcl_string(namespace)),
            ("gitlab_url", hcl_string(GITLAB_URL)),
            ("gitlab_api_url", hcl_string(gitlab.url())),
        ];
        // A scenario's own value for a connection variable (e.g. an oci:// `chart`) wins.
        for (name, value) in extra {
            match vars.iter_mut().find(|(existing, _)| existing == name) {
                Some(slot) => slot.1 = value.clone(),
                None => vars.push((name, value.clone())),
            }
        }
        let text: String = vars
            .iter()
            .map(|(name, value)| format!("{name} = {value}\n"))
            .collect();
        fs::write(self.path(dir).join("test.auto.tfvars"), text).expect("write test.auto.tfvars");
    }
}

/// An HCL string literal (JSON string syntax; `${` and `%{` escaped).
pub fn hcl_string(value: &str) -> String {
    serde_json::to_string(value)
        .expect("string serializes")
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// Copies `from` into `to` recursively, leaving out Terraform's working files.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read dir").flatten() {
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str.starts_with("terraform.tfstate")
            || name_str == ".terraform.lock.hcl"
        {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The GitLab API test server, seeded with the examples' runner and an admin token. Keeps its
/// own Tokio runtime alive for as long as it lives.
pub struct GitlabWorld {
    server: Option<TestServer>,
    runtime: tokio::runtime::Runtime,
}

impl GitlabWorld {
    pub fn start() -> GitlabWorld {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let seed = Seed {
            tokens: vec![TokenSpec::admin(ADMIN_TOKEN_NAME, ADMIN_TOKEN)],
            projects: Vec::new(),
            runners: vec![NewRunner {
                token: Some(RUNNER_TOKEN.into()),
                description: "examples".into(),
                ..NewRunner::default()
            }],
        };
        let server = runtime
            .block_on(TestServer::start_with("127.0.0.1:0", seed))
            .expect("GitLab API test server starts");
        GitlabWorld {
            server: Some(server),
            runtime,
        }
    }

    pub fn url(&self) -> &str {
        self.server.as_ref().expect("server runs").url()
    }

    /// Adds a runner whose authentication token is `token`; returns its id.
    pub fn create_runner(&self, token: &str, description: &str) -> u64 {
        let admin = self.server.as_ref().expect("server runs").admin();
        self.runtime
            .block_on(admin.create_runner(&NewRunner {
                token: Some(token.to_owned()),
                description: description.to_owned(),
                ..NewRunner::default()
            }))
            .expect("create runner")
            .id
    }

    /// Whether the runner is paused in GitLab.
    pub fn runner_paused(&self, id: u64) -> bool {
        let admin = self.server.as_ref().expect("server runs").admin();
        self.runtime
            .block_on(admin.runner(id))
            .expect("read runner")
            .unwrap_or_else(|| panic!("runner {id} exists"))
            .paused
    }

    /// Every request the server answered so far, in order of arrival.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.server.as_ref().expect("server runs").request_log()
    }
}

impl Drop for GitlabWorld {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Runs kubectl against `world` and panics with its output unless it succeeded.
#[track_caller]
pub fn kubectl_ok(world: &KubeWorld, args: &[&str]) -> Output {
    let out = world.kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Creates a Secret from literal key/values (values are test fixtures, not real credentials).
pub fn create_secret(world: &KubeWorld, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let literals: Vec<String> = data
        .iter()
        .map(|(k, v)| format!("--from-literal={k}={v}"))
        .collect();
    let mut args = vec!["create", "secret", "generic", name, "-n", namespace];
    args.extend(literals.iter().map(String::as_str));
    kubectl_ok(world, &args);
}

/// The decoded value of one key of a live Secret.
pub fn secret_value(world: &KubeWorld, namespace: &str, name: &str, key: &str) -> Option<String> {
    let secret = world.get_json("secret", namespace, name)?;
    let encoded = secret["data"][key].as_str()?.to_owned();
    let bytes = STANDARD.decode(encoded).expect("base64");
    Some(String::from_utf8(bytes).expect("UTF-8"))
}

/// `config.template.toml` of the release's ConfigMap (the rendered `runners.config`).
pub fn config_template(world: &KubeWorld, namespace: &str) -> String {
    let config_map = world
        .get_json("configmap", namespace, RELEASE)
        .unwrap_or_else(|| panic!("ConfigMap {namespace}/{RELEASE} exists"));
    config_map["data"]["config.template.toml"]
        .as_str()
        .expect("config.template.toml")
        .to_owned()
}

/// `config.toml` of the release's ConfigMap (global settings).
pub fn config_toml(world: &KubeWorld, namespace: &str) -> String {
    let config_map = world
        .get_json("configmap", namespace, RELEASE)
        .unwrap_or_else(|| panic!("ConfigMap {namespace}/{RELEASE} exists"));
    config_map["data"]["config.toml"]
        .as_str()
        .expect("config.toml")
        .to_owned()
}

/// Panics unless `text` contains every one of `needles`.
#[track_caller]
pub fn assert_contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

/// The user-supplied values helm recorded for the release (`helm get values -o json`).
pub fn helm_values(world: &KubeWorld, namespace: &str) -> serde_json::Value {
    let home = tempfile::tempdir().expect("temp HOME");
    let out = Command::new(&world.tools().helm4)
        .args(["get", "values", RELEASE, "-n", namespace, "-o", "json"])
        .env("KUBECONFIG", world.kubeconfig())
        .env("HOME", home.path())
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm get values: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("helm printed JSON")
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
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=gitlab.example.com",
            "-addext",
            "subjectAltName=DNS:gitlab.example.com,DNS:*.example.com",
        ])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(cert).expect("certificate written")
}

/// One request the issue recorder received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub private_token: Option<String>,
    /// The form body, URL-decoded into pairs.
    pub form: Vec<(String, String)>,
}

/// A stand-in for the two GitLab issue endpoints the drift check calls (the GitLab API test
/// server has no issues): `GET …/issues` answers with `open_issues`, `POST …/issues` and
/// `POST …/issues/:iid/notes` answer 201. Every request is recorded.
pub struct IssueRecorder {
    pub url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<RecordedRequest>>>,
}

impl IssueRecorder {
    /// Serves on 127.0.0.1:0 from a background thread; `open_issues` is the JSON array the
    /// issue search returns.
    pub fn start(open_issues: &'static str) -> IssueRecorder {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut parts = request_line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let target = parts.next().unwrap_or_default().to_owned();
                let (mut length, mut token, mut expect_continue) = (0usize, None, false);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                    let value = value.trim().to_owned();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.parse().unwrap_or(0),
                        "private-token" => token = Some(value),
                        "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
                        _ => {}
                    }
                }
                if expect_continue {
                    let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let form = url_decode_form(&String::from_utf8_lossy(&body));
                let response = if method == "GET" {
                    open_issues.to_owned()
                } else {
                    "{\"iid\": 1}".to_owned()
                };
                let status = if method == "GET" {
                    "200 OK"
                } else {
                    "201 Created"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response}",
                    response.len()
                );
                log.lock().expect("log").push(RecordedRequest {
                    method,
                    target,
                    private_token: token,
                    form,
                });
            }
        });
        IssueRecorder { url, requests }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("log").clone()
    }
}

fn url_decode_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
