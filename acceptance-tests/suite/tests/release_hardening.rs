//! Hardening of how the provider runs helm, with real terraform and real helm 4 (issue 11,
//! items 3–5). helm is reached through a small wrapper script given as `helm_path` that notes
//! what it sees (its argv, its pid) or waits, then `exec`s the real helm — real helm still runs.
//! None of these tests needs the test server's admin surface; all run against a real cluster.
//!
//! - the settings record stays out of helm's argv, a 256 KiB `runner_config_toml` applies, and
//!   import still restores the settings;
//! - a provider killed with SIGKILL takes helm with it, and its sandbox (kubeconfig, values) is
//!   removed by the next provider start;
//! - a terminal Ctrl-C (SIGINT to the foreground process group) does not reach helm: Terraform's
//!   StopProvider leaves it time to finish, and the release is deployed, not tainted.

#![cfg(unix)]

mod release_support;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acceptance::KubeWorld;
use release_support::{
    HelmVersion, RELEASE, ReleaseHcl, SMALL_RUNNER, helm_bin, release_attr, workdir,
};
const DESCRIPTION_PREFIX: &str = "terraform-provider-gitlabrunner settings: sha256:";

/// A `helm` script in `dir`: runs `body` (with `$1` the helm subcommand), then the real helm.
fn helm_wrapper(dir: &Path, real: &Path, body: &str) -> PathBuf {
    let path = dir.join("helm");
    std::fs::write(
        &path,
        format!("#!/bin/sh\n{body}\nexec '{}' \"$@\"\n", real.display()),
    )
    .expect("write the helm wrapper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("make the wrapper executable");
    path
}

fn release_config(
    world: &KubeWorld,
    helm: &Path,
    namespace: &str,
    runner_lines: &str,
    extra: &str,
) -> String {
    ReleaseHcl::new(world, helm, namespace)
        .lines(&format!("{runner_lines}\n  timeout = 120\n{extra}"))
        .build()
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Fields of `/proc/<pid>/stat` after the command name: `[0]` = state, `[1]` = ppid.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// Gone, or a zombie nobody has reaped yet (it runs no more).
fn process_is_gone(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|fields| fields[0] == "Z" || fields[0] == "X")
}

fn signal(target: &str, name: &str) {
    let out = Command::new("kill")
        .args([format!("-{name}").as_str(), "--", target])
        .output()
        .expect("kill runs");
    assert!(
        out.status.success(),
        "kill -{name} {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_settings_record_stays_out_of_helm_argv_and_a_256_kib_runner_config_applies() {
    let world = KubeWorld::start();
    let real = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("argv");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let dir = workdir(&world);
    let argv_log = dir.path().join("helm-argv.log");
    let helm = helm_wrapper(
        dir.path(),
        &real,
        &format!(
            "for arg in \"$@\"; do printf '%s\\n' \"$arg\"; done >> '{log}'\necho '<<end of argv>>' >> '{log}'",
            log = argv_log.display()
        ),
    );
    // 256 KiB of runner configuration: more than one argv string may hold (128 KiB).
    let script_line = "echo runner-toml-canary-0123456789abcdefghijklmnopqrstuvwxyz\n";
    let script: String = script_line.repeat(256 * 1024 / script_line.len() + 1);
    let toml = format!(
        "concurrent = 2\n\n[[runners]]\n  name = \"big\"\n  executor = \"kubernetes\"\n  environment = [\"ARGV_CANARY_ENV=1\"]\n  pre_build_script = '''\n{script}'''\n  [runners.kubernetes]\n    image = \"alpine:3.20\"\n"
    );
    assert!(toml.len() >= 256 * 1024, "{}", toml.len());
    dir.write("runner.toml", &toml);
    let extra = "  values = [yamlencode({ API_KEY_X = \"values-canary-not-a-known-secret-key\" })]";
    dir.write(
        "main.tf",
        &release_config(
            &world,
            &helm,
            &namespace,
            "  runner_config_toml = file(\"${path.module}/runner.toml\")",
            extra,
        ),
    );

    dir.apply().success();
    assert_eq!(release_attr(&dir, "status"), "deployed");
    let config_map = world
        .get_json("configmap", &namespace, RELEASE)
        .expect("the chart's ConfigMap");
    assert!(
        config_map["data"]["config.template.toml"]
            .as_str()
            .unwrap_or_default()
            .contains("runner-toml-canary"),
        "the 256 KiB configuration reached the chart"
    );

    // helm's argv: no user content, no record; the description is a short digest.
    let log = std::fs::read_to_string(&argv_log).expect("the wrapper logged helm's argv");
    for canary in [
        "runner-toml-canary",
        "ARGV_CANARY_ENV",
        "values-canary",
        "pre_build_script",
        "gitlab.example.com",
    ] {
        assert!(!log.contains(canary), "{canary} in helm's argv:\n{log}");
    }
    let invocations: Vec<Vec<&str>> = log
        .split("<<end of argv>>\n")
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| chunk.lines().collect())
        .collect();
    let upgrade = invocations
        .iter()
        .find(|args| args.first() == Some(&"upgrade"))
        .unwrap_or_else(|| panic!("no helm upgrade in:\n{log}"));
    let description = upgrade
        .iter()
        .position(|arg| *arg == "--description")
        .and_then(|at| upgrade.get(at + 1))
        .expect("--description");
    assert!(
        description.starts_with(DESCRIPTION_PREFIX)
            && description.len() == DESCRIPTION_PREFIX.len() + 64,
        "{description}"
    );
    for args in &invocations {
        let bytes: usize = args.iter().map(|arg| arg.len() + 1).sum();
        assert!(bytes < 4096, "{bytes} bytes of argv: {args:?}");
    }

    // The record lives in a Secret of ours, owned by helm's revision Secret.
    let record = world
        .get_json(
            "secret",
            &namespace,
            &format!("gitlabrunner.settings.v1.{RELEASE}"),
        )
        .expect("the settings record Secret");
    assert_eq!(record["type"], "gitlabrunner.io/settings.v1");
    assert_eq!(
        record["metadata"]["ownerReferences"][0]["name"],
        format!("sh.helm.release.v1.{RELEASE}.v1")
    );

    // Import restores the settings from it: the plan is empty.
    dir.run(&["state", "rm", "-no-color", "gitlabrunner_release.runner"])
        .success();
    dir.import(
        "gitlabrunner_release.runner",
        &format!("{namespace}/{RELEASE}"),
    )
    .success();
    dir.plan().expect_code(0);
    assert!(
        release_attr(&dir, "runner_config_toml")
            .as_str()
            .is_some_and(|restored| restored == toml),
        "import restored the 256 KiB configuration"
    );

    dir.destroy().success();
    assert!(
        wait_for(Duration::from_secs(30), || world
            .get_json(
                "secret",
                &namespace,
                &format!("gitlabrunner.settings.v1.{RELEASE}")
            )
            .is_none()),
        "the record Secret goes with helm's revision Secrets"
    );
}

#[test]
fn helm_dies_with_a_killed_provider_and_its_sandbox_is_removed_at_the_next_start() {
    let world = KubeWorld::start();
    let real = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("sigkill");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let mut dir = workdir(&world);
    let tmp = tempfile::tempdir().expect("a TMPDIR for the provider");
    dir.set_env("TMPDIR", tmp.path().display().to_string());
    let note = dir.path().join("helm-upgrade.note");
    // The upgrade blocks (helm's pid becomes `sleep`'s: exec keeps it).
    let helm = helm_wrapper(
        dir.path(),
        &real,
        &format!(
            "if [ \"$1\" = upgrade ]; then echo \"$$ $KUBECONFIG\" > '{note}.tmp'; mv '{note}.tmp' '{note}'; exec sleep 600; fi",
            note = note.display()
        ),
    );
    dir.write(
        "main.tf",
        &release_config(&world, &helm, &namespace, SMALL_RUNNER, ""),
    );

    let mut apply = dir
        .command(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("terraform apply starts");
    assert!(
        wait_for(Duration::from_secs(120), || note.exists()),
        "helm upgrade never started"
    );
    let noted = std::fs::read_to_string(&note).expect("note");
    let (helm_pid, kubeconfig) = noted.trim().split_once(' ').expect("pid and kubeconfig");
    let helm_pid: u32 = helm_pid.parse().expect("pid");
    let sandbox = Path::new(kubeconfig)
        .parent()
        .expect("the kubeconfig is in the sandbox")
        .to_path_buf();
    assert!(sandbox.starts_with(tmp.path()), "{}", sandbox.display());
    assert!(sandbox.is_dir());
    let provider_pid: u32 = proc_stat(helm_pid).expect("helm runs")[1]
        .parse()
        .expect("ppid");
    let provider_exe = std::fs::read_link(format!("/proc/{provider_pid}/exe")).expect("exe");
    assert!(
        provider_exe
            .to_string_lossy()
            .contains("terraform-provider-gitlabrunner"),
        "helm's parent is {}",
        provider_exe.display()
    );

    signal(&provider_pid.to_string(), "KILL");
    assert!(
        wait_for(Duration::from_secs(2), || process_is_gone(helm_pid)),
        "helm (pid {helm_pid}) outlived the killed provider"
    );
    let _ = apply.wait();
    assert!(sandbox.is_dir(), "nothing could remove it yet");

    // The next provider start (any terraform command) removes the dead provider's sandbox.
    dir.plan().expect_code(2);
    assert!(
        !sandbox.exists(),
        "the sandbox of the killed provider is still there: {:?}",
        std::fs::read_dir(tmp.path())
            .map(|entries| entries.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
}

#[test]
fn a_terminal_ctrl_c_does_not_reach_helm_and_the_release_is_not_tainted() {
    let world = KubeWorld::start();
    let real = helm_bin(&world, HelmVersion::Four);
    let namespace = world.create_namespace("sigint");
    release_support::create_token_secret(&world, &namespace, "runner-token");
    let dir = workdir(&world);
    let note = dir.path().join("helm-upgrade.note");
    // The upgrade takes a few seconds before real helm runs: a Ctrl-C lands in that window.
    let helm = helm_wrapper(
        dir.path(),
        &real,
        &format!(
            "if [ \"$1\" = upgrade ]; then touch '{}'; sleep 3; fi",
            note.display()
        ),
    );
    dir.write(
        "main.tf",
        &release_config(&world, &helm, &namespace, SMALL_RUNNER, ""),
    );

    // Terraform in its own process group, as a shell puts a foreground job.
    let apply = dir
        .command(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("terraform apply starts");
    let group = apply.id();
    assert!(
        wait_for(Duration::from_secs(120), || note.exists()),
        "helm upgrade never started"
    );
    // What the terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    signal(&format!("-{group}"), "INT");
    let output = apply.wait_with_output().expect("terraform apply ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("Interrupt received") || stderr.contains("Interrupt received"),
        "terraform did not see the interrupt:\n{stdout}\n{stderr}"
    );

    // helm finished: the release is deployed and in state, not tainted.
    assert_eq!(
        release_attr(&dir, "status"),
        "deployed",
        "{stdout}\n{stderr}\n{}",
        dir.state_raw()
    );
    assert!(
        !dir.state_raw().contains("\"status\": \"tainted\""),
        "{}",
        dir.state_raw()
    );
    assert!(world.get_json("deployment", &namespace, RELEASE).is_some());
    dir.plan().expect_code(0);
    dir.destroy().success();
}
