//! Where a `gitlabrunner_release` chart comes from, end to end with real terraform and real helm 4:
//! a chart version changed by hand (helm upgrade from a copy of the chart with another version)
//! is planned and repaired, and a release installs from a plain-HTTP chart repository served by
//! the test itself (made with real `helm package` and `helm repo index`).

mod release_support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use acceptance::KubeWorld;
use release_support::{
    HelmVersion, RUNNER_TOKEN, chart_path, copy_tree, helm, helm_bin, ok, provider_block,
    release_attr, workdir,
};

const RELEASE: &str = "gitlab-runner";
const FIXTURE_VERSION: &str = "0.86.0-fixture";
const HAND_VERSION: &str = "0.86.1-fixture";

/// Where the release's chart comes from in the configuration.
enum Source<'a> {
    LocalPath(&'a Path),
    Repository(&'a str),
}

/// A minimal release (with its token Secret) pinned to `chart_version`.
fn release_config(world: &KubeWorld, helm_path: &Path, namespace: &str, source: Source) -> String {
    let chart = match source {
        Source::LocalPath(path) => format!("  chart = \"{}\"\n", path.display()),
        Source::Repository(url) => {
            format!("  repository = \"{url}\"\n  chart      = \"gitlab-runner\"\n")
        }
    };
    format!(
        r#"{provider}
resource "gitlabrunner_token_secret" "token" {{
  namespace    = "{namespace}"
  name         = "runner-token"
  runner_token = "{RUNNER_TOKEN}"
}}

resource "gitlabrunner_release" "runner" {{
  name          = "{RELEASE}"
  namespace     = "{namespace}"
{chart}  chart_version = "{FIXTURE_VERSION}"

  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = gitlabrunner_token_secret.token.name
  token_digest      = gitlabrunner_token_secret.token.token_digest
  runner_name       = "sources-runner"
  concurrent        = 2

  runner {{
    kubernetes {{
      namespace = "{namespace}"
      image     = "alpine:3.20"
    }}
  }}

  timeout = 120
}}
"#,
        provider = provider_block(world, helm_path),
    )
}

/// The `helm list -o json` entry of the release.
fn listed_release(world: &KubeWorld, helm_path: &Path, namespace: &str) -> serde_json::Value {
    let kubeconfig = world.kubeconfig().to_str().expect("utf-8 kubeconfig path");
    let out = helm(
        world,
        helm_path,
        &[
            "list",
            "-n",
            namespace,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    ok(&out, "helm list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("helm list JSON");
    list.as_array()
        .and_then(|releases| releases.iter().find(|r| r["name"] == RELEASE))
        .cloned()
        .unwrap_or_else(|| panic!("{RELEASE} not in helm list: {list}"))
}

#[test]
fn chart_version_changed_by_hand_is_planned_and_repaired() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("src");
    let dir = workdir(&world);
    let fixture = chart_path();
    dir.write(
        "main.tf",
        &release_config(&world, &helm_path, &namespace, Source::LocalPath(&fixture)),
    );
    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    // A copy of the chart with another version, upgraded to by hand.
    let scratch = tempfile::tempdir().expect("temp dir");
    let copied = scratch.path().join("gitlab-runner");
    copy_tree(&fixture, &copied);
    let chart_yaml = copied.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("Chart.yaml");
    let version_line = format!("version: {FIXTURE_VERSION}");
    assert!(
        text.lines().any(|line| line.trim() == version_line),
        "fixture Chart.yaml has no `{version_line}` line:\n{text}"
    );
    let edited: String = text
        .lines()
        .map(|line| {
            if line.trim() == version_line {
                format!("version: {HAND_VERSION}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&chart_yaml, edited).expect("write Chart.yaml");

    let kubeconfig = world.kubeconfig().to_str().expect("utf-8 kubeconfig path");
    let out = helm(
        &world,
        &helm_path,
        &[
            "upgrade",
            RELEASE,
            copied.to_str().expect("utf-8 path"),
            "--reuse-values",
            "-n",
            &namespace,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    ok(&out, "helm upgrade to the hand-edited chart");
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{HAND_VERSION}")
    );

    let plan = dir.plan();
    plan.expect_code(2);
    let expected_change = format!("\"{HAND_VERSION}\" -> \"{FIXTURE_VERSION}\"");
    assert!(
        plan.stdout
            .lines()
            .any(|line| line.contains("chart_version") && line.contains(&expected_change)),
        "the plan shows no chart_version {expected_change}: {plan:?}"
    );

    dir.apply().success();
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
}

/// A tiny HTTP/1.1 file server for one directory on 127.0.0.1 (GET only); it stops when dropped.
struct FileServer {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    fn serve(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind file server");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let served = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&served);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // A failed exchange only fails that request; helm reports it.
                    if let Ok(Some(name)) = answer(stream, &root) {
                        log.lock().expect("served log").push(name);
                    }
                }
            }
        });
        FileServer {
            port,
            stop,
            served,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Names of the files served so far (200 answers only).
    fn served(&self) -> Vec<String> {
        self.served.lock().expect("served log").clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request: the file under `root` for a GET of a plain file name, 404 otherwise.
/// Returns the name of the file served, if any.
fn answer(mut stream: TcpStream, root: &Path) -> std::io::Result<Option<String>> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    let name = path.trim_start_matches('/');
    let safe = !name.is_empty() && !name.contains('/') && !name.contains("..");
    let body = if method == "GET" && safe {
        std::fs::read(root.join(name)).ok()
    } else {
        None
    };
    let served = body.is_some().then(|| name.to_owned());
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Both)?;
    Ok(served)
}

#[test]
fn release_installs_from_a_chart_repository() {
    let world = KubeWorld::start();
    let helm_path = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("repo");

    // A chart repository made with real helm, served over plain HTTP on a free port.
    let repo = tempfile::tempdir().expect("repo dir");
    let repo_dir = repo.path().to_str().expect("utf-8 repo dir").to_owned();
    let out = helm(
        &world,
        &helm_path,
        &[
            "package",
            chart_path().to_str().expect("utf-8 chart path"),
            "-d",
            &repo_dir,
        ],
    );
    ok(&out, "helm package");
    assert!(
        repo.path()
            .join(format!("gitlab-runner-{FIXTURE_VERSION}.tgz"))
            .is_file(),
        "helm package wrote no gitlab-runner-{FIXTURE_VERSION}.tgz"
    );
    // Bind first so the index can name the real port.
    let server = FileServer::serve(repo.path().to_path_buf());
    let url = server.url();
    let out = helm(
        &world,
        &helm_path,
        &["repo", "index", &repo_dir, "--url", &url],
    );
    ok(&out, "helm repo index");
    let index = std::fs::read_to_string(repo.path().join("index.yaml")).expect("index.yaml");
    assert!(
        index.contains(&format!("{url}/gitlab-runner-{FIXTURE_VERSION}.tgz")),
        "{index}"
    );

    let dir = workdir(&world);
    dir.write(
        "main.tf",
        &release_config(&world, &helm_path, &namespace, Source::Repository(&url)),
    );
    dir.apply().success();
    let archive = format!("gitlab-runner-{FIXTURE_VERSION}.tgz");
    assert!(
        server.served().contains(&archive),
        "helm did not fetch {archive} from the repository: {:?}",
        server.served()
    );
    assert!(
        world.get_json("deployment", &namespace, RELEASE).is_some(),
        "the chart's Deployment exists"
    );
    assert_eq!(release_attr(&dir, "chart_version"), FIXTURE_VERSION);
    assert_eq!(release_attr(&dir, "status"), "deployed");
    assert_eq!(
        listed_release(&world, &helm_path, &namespace)["chart"],
        format!("gitlab-runner-{FIXTURE_VERSION}")
    );
    dir.plan().expect_code(0);

    dir.destroy().success();
    assert!(world.get_json("deployment", &namespace, RELEASE).is_none());
    drop(server);
}
