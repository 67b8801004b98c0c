#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns
#![cfg(unix)]

//! How helm processes are supervised, with the real helm 4 behind a thin wrapper script that
//! waits or notes what it sees before it `exec`s helm (the wrapper is not a mock: real helm runs):
//! version detection does not block the runtime and has a timeout, all helm processes of an
//! operation share one deadline, helm runs in its own process group, and a cancelled helm may
//! finish within the cancellation grace.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use helm_driver::{HelmBinary, HelmError, HelmInvocation, HelmRunner, HelmSandbox, RunOptions};
use kube_connection::{KubernetesConnection, ResolvedConnection};

fn real_helm() -> PathBuf {
    if let Some(path) = std::env::var_os("HELM4_BIN") {
        return PathBuf::from(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/bin/helm");
    assert!(
        path.is_file(),
        "{} missing: run `bash scripts/install-tools.sh` or set HELM4_BIN",
        path.display()
    );
    path
}

/// A script `helm` in `dir` that runs `body` and then `exec`s the real helm with its arguments.
fn wrapper(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("helm");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n{body}\nexec '{}' \"$@\"\n",
            real_helm().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn runner_for(helm: PathBuf) -> HelmRunner {
    HelmRunner::new(HelmBinary::with_version(helm, semver::Version::new(4, 1, 4)).unwrap())
}

fn connection() -> ResolvedConnection {
    KubernetesConnection {
        host: Some("https://127.0.0.1:1".into()),
        token: Some("t".into()),
        ..Default::default()
    }
    .resolve(&|_| None)
    .unwrap()
}

fn version_invocation() -> HelmInvocation {
    HelmInvocation {
        args: vec!["version".into(), "--short".into()],
        stdin_secret: None,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_hanging_helm_version_times_out_without_blocking_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let helm = wrapper(dir.path(), "exec sleep 30");
    // On a one-thread runtime a blocking detection would stop this ticker.
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let error = HelmBinary::detect_async(Some(&helm), Duration::from_millis(800))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    ticker.abort();
    assert!(
        matches!(error, HelmError::VersionTimedOut { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("did not finish within"),
        "{error}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(
        ticks.load(std::sync::atomic::Ordering::Relaxed) >= 8,
        "the runtime was blocked while helm version ran"
    );
}

#[tokio::test]
async fn detection_through_a_wrapper_still_finds_helm_4() {
    let dir = tempfile::tempdir().unwrap();
    let helm = wrapper(dir.path(), "");
    let binary = HelmBinary::detect_async(Some(&helm), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(binary.version.major, 4);
}

#[tokio::test]
async fn helm_processes_of_one_operation_share_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner_for(wrapper(dir.path(), "sleep 1"));
    let sandbox = HelmSandbox::new(&connection()).unwrap();
    // Each run takes a bit over a second; the operation has 1.6 s for both.
    let options = RunOptions::new(Duration::from_millis(1600));
    runner
        .run(&sandbox, &version_invocation(), &options)
        .await
        .unwrap();
    let started = Instant::now();
    let error = runner
        .run(&sandbox, &version_invocation(), &options)
        .await
        .unwrap_err();
    assert!(matches!(error, HelmError::TimedOut { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn helm_runs_in_its_own_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("pgid");
    let runner = runner_for(wrapper(
        dir.path(),
        &format!("ps -o pgid= -p $$ | tr -d ' ' > '{}'", note.display()),
    ));
    let sandbox = HelmSandbox::new(&connection()).unwrap();
    runner
        .run(
            &sandbox,
            &version_invocation(),
            &RunOptions::new(Duration::from_secs(20)),
        )
        .await
        .unwrap();
    let group: i32 = std::fs::read_to_string(&note)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ours = nix::unistd::getpgrp().as_raw();
    assert_ne!(group, ours, "helm is in the caller's process group");
}

#[tokio::test]
async fn a_cancelled_helm_may_finish_within_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner_for(wrapper(dir.path(), "sleep 1"));
    let sandbox = HelmSandbox::new(&connection()).unwrap();
    let run = |grace: Duration| {
        let mut options = RunOptions::new(Duration::from_secs(30));
        options.cancel_grace = grace;
        let cancel = options.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        });
        let runner = &runner;
        let sandbox = &sandbox;
        async move { runner.run(sandbox, &version_invocation(), &options).await }
    };
    let output = run(Duration::from_secs(10)).await.unwrap();
    assert!(output.stdout.starts_with("v4."), "{output:?}");
    let error = run(Duration::ZERO).await.unwrap_err();
    assert!(matches!(error, HelmError::Cancelled { .. }), "{error}");
}
