//! What the user chose for the drain (`gitlabrunner_release` attributes), as plain values.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Default `drain_timeout`: long enough for most CI jobs, short enough not to hang a destroy.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `on_drain_timeout`: what to do when jobs are still running at `drain_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDrainTimeout {
    /// Stop with an error; the release stays installed and the runner paused.
    #[default]
    Fail,
    /// Warn and carry on with the teardown (the still-running jobs are cut off).
    Force,
}

impl OnDrainTimeout {
    /// Every choice, for the attribute's validator.
    pub const ALL: [OnDrainTimeout; 2] = [Self::Fail, Self::Force];

    /// The attribute spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Force => "force",
        }
    }
}

impl fmt::Display for OnDrainTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `on_drain_timeout` value that is neither `fail` nor `force`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("on_drain_timeout must be \"fail\" or \"force\", got {0:?}")]
pub struct InvalidOnDrainTimeout(pub String);

impl FromStr for OnDrainTimeout {
    type Err = InvalidOnDrainTimeout;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "fail" => Ok(Self::Fail),
            "force" => Ok(Self::Force),
            other => Err(InvalidOnDrainTimeout(other.to_owned())),
        }
    }
}

/// The drain attributes of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSettings {
    /// `runner_id`: skips `POST /runners/verify` when set.
    pub runner_id: Option<u64>,
    /// `drain_timeout`: how long running jobs may take to finish.
    pub drain_timeout: Duration,
    /// `on_drain_timeout`.
    pub on_drain_timeout: OnDrainTimeout,
    /// `delete_runner_on_destroy`: delete the runner in GitLab after the uninstall.
    pub delete_runner_on_destroy: bool,
    /// Whether the provider created the runner in GitLab (then it deletes it, too).
    pub provider_owns_runner: bool,
}

impl Default for DrainSettings {
    fn default() -> Self {
        Self {
            runner_id: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            on_drain_timeout: OnDrainTimeout::Fail,
            delete_runner_on_destroy: false,
            provider_owns_runner: false,
        }
    }
}

impl DrainSettings {
    /// Whether the teardown ends by deleting the runner in GitLab.
    pub fn deletes_runner(&self) -> bool {
        self.delete_runner_on_destroy || self.provider_owns_runner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_drain_timeout_parses_both_spellings_and_rejects_others() {
        assert_eq!("fail".parse(), Ok(OnDrainTimeout::Fail));
        assert_eq!("force".parse(), Ok(OnDrainTimeout::Force));
        let error = "Force".parse::<OnDrainTimeout>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "on_drain_timeout must be \"fail\" or \"force\", got \"Force\""
        );
    }

    #[test]
    fn runner_is_deleted_when_asked_or_owned() {
        let mut settings = DrainSettings::default();
        assert!(!settings.deletes_runner());
        settings.provider_owns_runner = true;
        assert!(settings.deletes_runner());
        settings = DrainSettings {
            delete_runner_on_destroy: true,
            ..DrainSettings::default()
        };
        assert!(settings.deletes_runner());
    }
}
