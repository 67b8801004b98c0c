//! The README's main job, `scripts/quickstart.sh`, run as a user runs it (with this build's
//! binaries instead of a second `cargo build`): apply against the local test world, an empty
//! second plan, a drained destroy (the runner paused) before the runner is deleted in GitLab.

use std::process::Command;

use acceptance::Tools;
use acceptance::tools::workspace_root;

#[test]
fn quickstart_applies_plans_clean_and_destroys_with_the_drain() {
    acceptance::skip_in_real_cluster!(
        "the quickstart starts its own test servers; the default run covers it"
    );
    let tools = Tools::locate();
    let root = workspace_root();
    let bin_dir = tools
        .provider
        .parent()
        .expect("provider binary has a parent directory");
    for server in ["kube-test-server", "gitlab-test-server"] {
        assert!(
            bin_dir.join(server).is_file(),
            "{server} not built in {} (cargo test --workspace builds it)",
            bin_dir.display()
        );
    }
    let work = tempfile::tempdir().expect("temp dir");
    let out = Command::new("bash")
        .arg(root.join("scripts/quickstart.sh"))
        .env("QUICKSTART_BIN_DIR", bin_dir)
        .env("QUICKSTART_WORK_DIR", work.path())
        .env("TF_CLI_BIN", &tools.terraform)
        .env("HELM4_BIN", &tools.helm4)
        .output()
        .expect("run scripts/quickstart.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for expected in [
        "Apply complete! Resources: 3 added, 0 changed, 0 destroyed.",
        "The runner token is not in terraform.tfstate",
        "No changes: plan -detailed-exitcode exited 0.",
        "Destroy complete! Resources: 3 destroyed.",
        ": paused by the drain, then deleted",
    ] {
        assert!(
            stdout.contains(expected),
            "quickstart output lacks {expected:?}:\n{stdout}\n{stderr}"
        );
    }
}
