use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::world::{Api, World};

#[tokio::test]
async fn binary_prints_its_url_and_serves_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.json");
    let mut seed = std::fs::File::create(&seed_path).unwrap();
    write!(
        seed,
        r#"{{"tokens":[{{"name":"root","token":"glpat-bin","admin":true}}],
            "runners":[{{"id":55,"token":"glrt-t1_binarybinarybinary","description":"seeded"}}]}}"#
    )
    .unwrap();
    drop(seed);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gitlab-test-server"))
        .args(["--listen", "127.0.0.1:0", "--seed-file"])
        .arg(&seed_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_owned()
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    let reply = Api::at(format!("{url}/api/v4"))
        .get("/runners/55")
        .private_token("glpat-bin")
        .send()
        .await;
    let details = reply.json_with_status(StatusCode::OK);
    assert_eq!(details["description"], "seeded");

    // SIGTERM (what scripts and CI send) shuts it down cleanly: exit 0, listener closed.
    let address = url.trim_start_matches("http://").to_owned();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gitlab-test-server did not stop within 10 s of SIGTERM");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(std::net::TcpStream::connect(&address).is_err());
}

#[test]
fn binary_rejects_a_broken_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.json");
    std::fs::write(&seed_path, "{ not json").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gitlab-test-server"))
        .args(["--listen", "127.0.0.1:0", "--seed-file"])
        .arg(&seed_path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the seed file"), "{stderr}");
}

#[tokio::test]
async fn example_seed_file_loads_and_serves() {
    let seed: gitlab_test_server::Seed =
        serde_json::from_str(include_str!("../../seed.example.json")).unwrap();
    let world = World::seeded(seed).await;
    let reply = world.get_as("glpat-dev-example", "/runners/7").await;
    let details = reply.json_with_status(StatusCode::OK);
    assert_eq!(details["tag_list"], serde_json::json!(["k8s"]));
}
