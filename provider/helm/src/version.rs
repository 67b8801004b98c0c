//! Finding the helm binary and telling helm 3 from helm 4.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::HelmError;

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
    pub fn detect(path: Option<&Path>) -> Result<Self, HelmError> {
        let path = locate(path)?;
        let printed = run_version(&path, &["version", "--template", "{{.Version}}"])
            .and_then(|text| match parse_version(&text) {
                Some(_) => Ok(text),
                None => Err(HelmError::UnparsableVersion {
                    path: path.clone(),
                    output: text,
                }),
            })
            .or_else(|_| run_version(&path, &["version", "--short"]))?;
        let version = parse_version(&printed).ok_or_else(|| HelmError::UnparsableVersion {
            path: path.clone(),
            output: printed.clone(),
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

fn run_version(path: &Path, args: &[&str]) -> Result<String, HelmError> {
    let output = Command::new(path)
        .args(args)
        .env("HELM_DEBUG", "false")
        .output()
        .map_err(|error| HelmError::VersionCommand {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    if !output.status.success() {
        return Err(HelmError::VersionCommand {
            path: path.to_path_buf(),
            reason: format!(
                "exit status {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
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
