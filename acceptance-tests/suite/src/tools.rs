//! Where the real binaries live.
//!
//! Each tool can be named by an environment variable; otherwise the project-local `tools/bin`
//! folder filled by `scripts/install-tools.sh` is used, then `PATH`.

use std::env;
use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Paths of the real client binaries the tests drive.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The CLI the tests drive: `terraform`, or `tofu` when `GITLABRUNNER_TEST_CLI=tofu`.
    pub terraform: PathBuf,
    /// `tofu`, when it is on PATH (or named by `TOFU_BIN`).
    pub tofu: Option<PathBuf>,
    pub helm4: PathBuf,
    pub helm3: PathBuf,
    pub kubectl: PathBuf,
    pub provider: PathBuf,
}

impl Tools {
    /// Finds every tool, panicking with a sentence that says how to install a missing one: an
    /// acceptance test that cannot find its tools must fail, not pass silently.
    pub fn locate() -> Tools {
        let local = workspace_root().join("tools/bin");
        let need = |var: &str, local_name: &str, path_name: &str| -> PathBuf {
            find(var, &local.join(local_name), path_name).unwrap_or_else(|| {
                panic!(
                    "{path_name} not found: set {var}, or run scripts/install-tools.sh \
                     (it installs helm 3/4 and kubectl into tools/bin)"
                )
            })
        };
        let tofu = find("TOFU_BIN", Path::new("/nonexistent"), "tofu");
        let cli = choose_cli(
            env::var("GITLABRUNNER_TEST_CLI").ok().as_deref(),
            || find("TERRAFORM_BIN", Path::new("/nonexistent"), "terraform"),
            tofu.clone(),
        )
        .unwrap_or_else(|problem| panic!("{problem}"));
        Tools {
            terraform: cli,
            tofu,
            helm4: need("HELM4_BIN", "helm", "helm"),
            helm3: need("HELM3_BIN", "helm3", "helm3"),
            kubectl: need("KUBECTL_BIN", "kubectl", "kubectl"),
            provider: provider_binary(),
        }
    }
}

/// The CLI named by `GITLABRUNNER_TEST_CLI` (`terraform`, the default, or `tofu`), so the whole
/// suite can run under OpenTofu where it is installed.
fn choose_cli(
    selector: Option<&str>,
    terraform: impl FnOnce() -> Option<PathBuf>,
    tofu: Option<PathBuf>,
) -> Result<PathBuf, String> {
    match selector.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("terraform") => {
            terraform().ok_or_else(|| "terraform not found on PATH (set TERRAFORM_BIN)".to_owned())
        }
        Some("tofu") => tofu.ok_or_else(|| {
            "GITLABRUNNER_TEST_CLI=tofu, but tofu is not on PATH (set TOFU_BIN)".to_owned()
        }),
        Some(other) => Err(format!(
            "GITLABRUNNER_TEST_CLI={other:?}: expected \"terraform\" or \"tofu\""
        )),
    }
}

fn find(var: &str, local: &Path, path_name: &str) -> Option<PathBuf> {
    if let Some(p) = env::var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if local.is_file() {
        return Some(local.to_path_buf());
    }
    env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|dir| dir.join(path_name))
            .find(|candidate| candidate.is_file())
    })
}

/// The provider binary built by this `cargo test` run.
///
/// `cargo test --workspace` builds every package's binaries before any test runs, and puts them
/// beside the `deps/` folder that holds this test executable. `GITLABRUNNER_PROVIDER_BIN`
/// overrides it (e.g. to test a release build).
pub fn provider_binary() -> PathBuf {
    if let Some(p) = env::var_os("GITLABRUNNER_PROVIDER_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = env::current_exe().unwrap_or_else(|e| panic!("cannot find the test executable: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test executable location {}", exe.display()));
    let bin = profile_dir.join(format!(
        "terraform-provider-gitlabrunner{}",
        env::consts::EXE_SUFFIX
    ));
    let release = profile_dir
        .file_name()
        .is_some_and(|name| name == "release");
    assert!(
        bin.is_file(),
        "provider binary not built at {}: run `cargo build {}-p terraform-provider-gitlabrunner`{}",
        bin.display(),
        if release { "--release " } else { "" },
        if release {
            ""
        } else {
            " or `cargo test --workspace`"
        },
    );
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_terraform_unless_tofu_is_asked_for() {
        let terraform = || Some(PathBuf::from("/usr/bin/terraform"));
        let tofu = Some(PathBuf::from("/usr/bin/tofu"));
        assert_eq!(
            choose_cli(None, terraform, tofu.clone()),
            Ok(PathBuf::from("/usr/bin/terraform"))
        );
        assert_eq!(
            choose_cli(Some("terraform"), terraform, None),
            Ok(PathBuf::from("/usr/bin/terraform"))
        );
        assert_eq!(
            choose_cli(Some("tofu"), terraform, tofu),
            Ok(PathBuf::from("/usr/bin/tofu"))
        );
        let missing = choose_cli(Some("tofu"), terraform, None).unwrap_err();
        assert!(missing.contains("TOFU_BIN"), "{missing}");
        let unknown = choose_cli(Some("pulumi"), terraform, None).unwrap_err();
        assert!(unknown.contains("\"pulumi\""), "{unknown}");
        assert!(choose_cli(None, || None, None).is_err());
    }
}
