//! Runner token expiry and rotation: the instance setting `runner_token_expiration_interval`,
//! the server's clock (which tests may move forward), and resetting a runner's token — by a
//! user who manages the runner (`POST /runners/:id/reset_authentication_token`) or by the runner
//! itself (`POST /runners/reset_authentication_token`, as the runner process does before expiry).

use time::{Duration, OffsetDateTime};

use super::{Store, generate_runner_token};
use crate::model::Runner;
use crate::timefmt;

/// Why a runner's own token reset was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelfResetRefused {
    /// No runner has that token, or it has expired: GitLab answers 403.
    InvalidToken,
}

/// The expiry setting and the clock offset the test surface set.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TokenClock {
    /// `runner_token_expiration_interval`: tokens issued from now on expire this long after
    /// they were issued; `None` = they never expire (GitLab's default).
    expiration_interval: Option<Duration>,
    /// How far the server's clock is ahead of the real one.
    offset: Duration,
}

impl TokenClock {
    /// The server's current time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        timefmt::now() + self.offset
    }

    /// When a token issued now expires.
    pub(crate) fn new_token_expiry(&self) -> Option<OffsetDateTime> {
        self.expiration_interval
            .map(|interval| self.now() + interval)
    }

    /// Whether the runner's token has expired by the server's clock.
    pub(crate) fn has_expired(&self, runner: &Runner) -> bool {
        runner
            .token_expires_at
            .is_some_and(|expires| expires <= self.now())
    }
}

impl Store {
    /// Sets `runner_token_expiration_interval` (seconds; `None` = tokens never expire). Applies
    /// to tokens issued afterwards, as in GitLab.
    pub fn set_token_expiration_interval(&self, seconds: Option<u64>) {
        self.lock().tokens_clock.expiration_interval =
            seconds.map(|s| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)));
    }

    /// Moves the server's clock `seconds` ahead (tokens expire by it); returns the new time.
    pub fn advance_clock(&self, seconds: i64) -> OffsetDateTime {
        let mut inner = self.lock();
        inner.tokens_clock.offset += Duration::seconds(seconds);
        inner.tokens_clock.now()
    }

    /// A new token for runner `id` (the old one stops working at once); `None` when the runner
    /// does not exist.
    pub fn reset_runner_token(&self, id: u64) -> Option<Runner> {
        let mut inner = self.lock();
        let expiry = inner.tokens_clock.new_token_expiry();
        let runner = inner.runners.get_mut(&id)?;
        runner.token = generate_runner_token();
        runner.token_expires_at = expiry;
        Some(runner.clone())
    }

    /// The runner's own rotation: authenticated by its current, unexpired `token`.
    pub fn reset_own_token(&self, token: &str) -> Result<Runner, SelfResetRefused> {
        let runner = self
            .runner_by_token(token)
            .ok_or(SelfResetRefused::InvalidToken)?;
        self.reset_runner_token(runner.id)
            .ok_or(SelfResetRefused::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewRunner, Seed};

    #[test]
    fn tokens_expire_by_the_moved_clock_and_a_reset_issues_a_fresh_one() {
        let store = Store::new(Seed::default()).unwrap();
        let forever = store.create_runner(NewRunner::default()).unwrap();
        assert_eq!(forever.token_expires_at, None);
        store.set_token_expiration_interval(Some(7200));
        let expiring = store.create_runner(NewRunner::default()).unwrap();
        assert!(expiring.token_expires_at.is_some());
        assert!(store.runner_by_token(&expiring.token).is_some());
        store.advance_clock(7201);
        assert!(store.runner_by_token(&expiring.token).is_none(), "expired");
        assert!(store.runner_by_token(&forever.token).is_some());
        assert_eq!(
            store.reset_own_token(&expiring.token).err(),
            Some(SelfResetRefused::InvalidToken)
        );
        let renewed = store.reset_runner_token(expiring.id).unwrap();
        assert_ne!(renewed.token, expiring.token);
        assert!(store.runner_by_token(&renewed.token).is_some());
        let rotated = store.reset_own_token(&renewed.token).unwrap();
        assert!(store.runner_by_token(&renewed.token).is_none(), "old token");
        assert_eq!(
            store.runner_by_token(&rotated.token).unwrap().id,
            expiring.id
        );
    }
}
