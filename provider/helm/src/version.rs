//! Finding the helm binary and telling helm 3 from helm 4.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::HelmError;

/// How long `helm version` may take before detection gives up (it prints a constant; a helm
/// that hangs here is broken, e.g. a wrapper waiting on a lock or a network mount).
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The helm major versions this crate speaks; some flags differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HelmGeneration {
    /// helm 3.8 or newer.
    Helm3,
    /// helm 4.x.
    Helm4,
}

/// A helm binary whose version has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmBinary {
    pub path: PathBuf,
    pub version: semver::Version,
    pub generation: HelmGeneration,
}

const MINIMUM_HELM3_MINOR: u64 = 8;

impl HelmBinary {
    /// Finds helm (`path`, or `helm` on `PATH`), runs `helm version --template '{{.Version}}'`
    /// (falling back to `helm version --short`) and checks it is 3.8+ or 4.x.
    /// Blocks the calling thread (up to [`VERSION_TIMEOUT`] per `helm version`): for tools and
    /// tests; async code uses [`HelmBinary::detect_async`].
    pub fn detect(path: Option<&Path>) -> Result<Self, HelmError> {
        let path = locate(path)?;
        let printed = match run_version_blocking(&path, TEMPLATE_ARGS, VERSION_TIMEOUT) {
            Ok(text) if parse_version(&text).is_some() => text,
            Ok(_) | Err(_) => run_version_blocking(&path, SHORT_ARGS, VERSION_TIMEOUT)?,
        };
        Self::from_printed(path, &printed)
    }

    /// As [`HelmBinary::detect`], without blocking a runtime thread; both `helm version` runs
    /// together finish within `timeout` (the process is killed then).
    pub async fn detect_async(path: Option<&Path>, timeout: Duration) -> Result<Self, HelmError> {
        let path = locate(path)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let printed = match run_version_async(&path, TEMPLATE_ARGS, deadline, timeout).await {
            Ok(text) if parse_version(&text).is_some() => text,
            Ok(_) | Err(HelmError::VersionCommand { .. }) => {
                run_version_async(&path, SHORT_ARGS, deadline, timeout).await?
            }
            Err(error) => return Err(error),
        };
        Self::from_printed(path, &printed)
    }

    fn from_printed(path: PathBuf, printed: &str) -> Result<Self, HelmError> {
        let version = parse_version(printed).ok_or_else(|| HelmError::UnparsableVersion {
            path: path.clone(),
            output: printed.to_owned(),
        })?;
        let generation = generation_of(&version).ok_or_else(|| HelmError::UnsupportedVersion {
            path: path.clone(),
            found: version.to_string(),
        })?;
        Ok(Self {
            path,
            version,
            generation,
        })
    }

    /// A binary with a known version, without running it (for tests and callers that detected
    /// the version another way).
    pub fn with_version(path: PathBuf, version: semver::Version) -> Result<Self, HelmError> {
        let generation = generation_of(&version).ok_or_else(|| HelmError::UnsupportedVersion {
            path: path.clone(),
            found: version.to_string(),
        })?;
        Ok(Self {
            path,
            version,
            generation,
        })
    }
}

fn locate(path: Option<&Path>) -> Result<PathBuf, HelmError> {
    match path {
        Some(path) if path.components().count() > 1 => {
            if path.is_file() {
                Ok(path.to_path_buf())
            } else {
                Err(HelmError::NotFound {
                    searched: Some(path.to_path_buf()),
                })
            }
        }
        Some(name) => which::which(name).map_err(|_| HelmError::NotFound {
            searched: Some(name.to_path_buf()),
        }),
        None => which::which("helm").map_err(|_| HelmError::NotFound { searched: None }),
    }
}

const TEMPLATE_ARGS: &[&str] = &["version", "--template", "{{.Version}}"];
const SHORT_ARGS: &[&str] = &["version", "--short"];

/// `helm version …` run by std, polled until `timeout`.
fn run_version_blocking(
    path: &Path,
    args: &[&str],
    timeout: Duration,
) -> Result<String, HelmError> {
    let mut child = std::process::Command::new(path)
        .args(args)
        .env("HELM_DEBUG", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| version_error(path, error.to_string()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out(path, timeout));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => return Err(version_error(path, error.to_string())),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|error| version_error(path, error.to_string()))?;
    printed(path, &output)
}

/// `helm version …` on tokio, killed at `deadline`.
async fn run_version_async(
    path: &Path,
    args: &[&str],
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<String, HelmError> {
    let child = tokio::process::Command::new(path)
        .args(args)
        .env("HELM_DEBUG", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| version_error(path, error.to_string()))?;
    let output = tokio::time::timeout_at(deadline, child.wait_with_output())
        .await
        .map_err(|_| timed_out(path, timeout))?
        .map_err(|error| version_error(path, error.to_string()))?;
    printed(path, &output)
}

fn printed(path: &Path, output: &Output) -> Result<String, HelmError> {
    if !output.status.success() {
        return Err(version_error(
            path,
            format!(
                "exit status {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn version_error(path: &Path, reason: String) -> HelmError {
    HelmError::VersionCommand {
        path: path.to_path_buf(),
        reason,
    }
}

fn timed_out(path: &Path, timeout: Duration) -> HelmError {
    HelmError::VersionTimedOut {
        path: path.to_path_buf(),
        seconds: timeout.as_secs_f64(),
    }
}

/// Parses `v3.19.0`, `v4.1.4+g05fa379` or `v3.8.2+g6e3701e` (with or without the `v`).
pub fn parse_version(printed: &str) -> Option<semver::Version> {
    let word = printed.split_whitespace().next()?;
    let trimmed = word.trim_start_matches('v');
    semver::Version::parse(trimmed).ok()
}

/// Which generation a version belongs to; `None` when unsupported (older than 3.8, or 5+).
pub fn generation_of(version: &semver::Version) -> Option<HelmGeneration> {
    match version.major {
        3 if version.minor >= MINIMUM_HELM3_MINOR => Some(HelmGeneration::Helm3),
        4 => Some(HelmGeneration::Helm4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_template_and_short_outputs() {
        assert_eq!(parse_version("v4.1.4"), Some(semver::Version::new(4, 1, 4)));
        assert_eq!(
            parse_version("v3.19.0+g3d8990f\n").map(|v| (v.major, v.minor, v.patch)),
            Some((3, 19, 0))
        );
        assert_eq!(parse_version("3.8.0"), Some(semver::Version::new(3, 8, 0)));
        assert_eq!(parse_version("<no value>"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn supports_3_8_and_newer_3_and_all_4() {
        let gen_of = |text: &str| generation_of(&semver::Version::parse(text).unwrap());
        assert_eq!(gen_of("3.7.2"), None);
        assert_eq!(gen_of("2.17.0"), None);
        assert_eq!(gen_of("3.8.0"), Some(HelmGeneration::Helm3));
        assert_eq!(gen_of("3.19.0"), Some(HelmGeneration::Helm3));
        assert_eq!(gen_of("4.0.0"), Some(HelmGeneration::Helm4));
        assert_eq!(gen_of("5.0.0"), None);
    }

    #[test]
    fn too_old_names_found_and_needed_versions() {
        let error =
            HelmBinary::with_version(PathBuf::from("/opt/helm"), semver::Version::new(3, 7, 1))
                .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("3.7.1") && message.contains("3.8"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_explicit_path_is_reported_with_the_path() {
        let error = HelmBinary::detect(Some(Path::new("/nonexistent/dir/helm"))).unwrap_err();
        assert!(matches!(error, HelmError::NotFound { .. }));
        assert!(error.to_string().contains("/nonexistent/dir/helm"));
    }
}
