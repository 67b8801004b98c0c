//! Retrying transient failures: exponential backoff with jitter, `Retry-After` honoured,
//! bounded by a deadline and a cancellation token.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::GitlabError;

/// How to space out attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Wait before the second attempt (before jitter).
    pub initial_delay: Duration,
    /// Longest wait between attempts (before `Retry-After`, which may ask for more).
    pub max_delay: Duration,
    /// Growth factor of the wait after each failure.
    pub multiplier: f64,
    /// Fraction of each wait that is random: a wait `w` becomes uniform in `[w·(1−j), w]`.
    pub jitter: f64,
    /// Most attempts in all; `None` for no limit (the deadline and cancellation still apply).
    pub max_attempts: Option<u32>,
}

impl Default for RetryPolicy {
    /// 0.5 s doubling up to 15 s, half of each wait random, no attempt limit.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl RetryPolicy {
    /// The wait after failure number `failures` (1-based), before jitter.
    pub fn base_delay(&self, failures: u32) -> Duration {
        let exponent = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exponent);
        let seconds = self.initial_delay.as_secs_f64() * factor;
        if !seconds.is_finite() || seconds >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(seconds)
        }
    }

    /// The base delay with jitter applied, given a random `unit` in `[0, 1)`.
    pub fn jittered(&self, base: Duration, unit: f64) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * unit.clamp(0.0, 1.0))
    }
}

/// Runs `attempt` until it succeeds, fails with an error that is not
/// [retryable](GitlabError::is_retryable), the attempts run out, `deadline` passes
/// ([`GitlabError::DeadlineExceeded`], also when a `Retry-After` reaches past it) or `cancel`
/// fires ([`GitlabError::Cancelled`], also in the middle of an attempt).
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    mut attempt: F,
) -> Result<T, GitlabError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GitlabError>>,
{
    let mut attempts: u32 = 0;
    let mut last: Option<GitlabError> = None;
    loop {
        if cancel.is_cancelled() {
            return Err(GitlabError::Cancelled {
                last: last.map(Box::new),
            });
        }
        attempts += 1;
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(GitlabError::Cancelled { last: last.map(Box::new) });
            }
            outcome = run_until(deadline, attempt()) => outcome,
        };
        let error = match outcome {
            Some(Ok(value)) => return Ok(value),
            Some(Err(error)) => error,
            None => {
                let last = last.unwrap_or_else(|| GitlabError::InvalidConfig {
                    reason: "the first attempt did not finish before the deadline".to_owned(),
                });
                return Err(GitlabError::DeadlineExceeded {
                    attempts,
                    last: Box::new(last),
                });
            }
        };
        if !error.is_retryable() {
            return Err(error);
        }
        if policy.max_attempts.is_some_and(|max| attempts >= max) {
            return Err(GitlabError::RetriesExhausted {
                attempts,
                last: Box::new(error),
            });
        }
        let backoff = policy.jittered(policy.base_delay(attempts), fastrand::f64());
        let delay = error
            .retry_after()
            .map_or(backoff, |asked| asked.max(backoff));
        if let Some(deadline) = deadline
            && Instant::now() + delay > deadline
        {
            return Err(GitlabError::DeadlineExceeded {
                attempts,
                last: Box::new(error),
            });
        }
        tracing::info!(
            attempt = attempts,
            wait_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error = %error,
            "GitLab request failed; retrying"
        );
        last = Some(error);
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(GitlabError::Cancelled { last: last.map(Box::new) });
            }
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// `Some(outcome)`, or `None` when the deadline passed first.
async fn run_until<T>(deadline: Option<Instant>, future: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::operation::Operation;

    fn server_error() -> GitlabError {
        GitlabError::Server {
            operation: Operation::GetRunner(1),
            status: 503,
            detail: String::new(),
            retry_after: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            multiplier: 2.0,
            jitter: 0.0,
            max_attempts: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = policy();
        let delays: Vec<u64> = (1..=6).map(|n| policy.base_delay(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let policy = RetryPolicy {
            jitter: 0.5,
            ..policy()
        };
        let base = Duration::from_secs(4);
        assert_eq!(policy.jittered(base, 0.0), Duration::from_secs(4));
        assert_eq!(policy.jittered(base, 0.5), Duration::from_secs(3));
        assert!(policy.jittered(base, 0.999_999) > Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_with_growing_waits() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = retry(&policy(), None, &CancellationToken::new(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                Err(server_error())
            } else {
                Ok("done")
            }
        })
        .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(started.elapsed(), Duration::from_secs(1 + 2 + 4));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_longer_than_the_backoff_is_honoured() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = retry(&policy(), None, &CancellationToken::new(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(GitlabError::RateLimited {
                    operation: Operation::GetRunner(1),
                    retry_after: Some(Duration::from_secs(5)),
                })
            } else {
                Ok(())
            }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn final_errors_stop_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(&policy(), None, &CancellationToken::new(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(GitlabError::Unauthorized {
                operation: Operation::GetRunner(1),
            })
        })
        .await;
        assert!(matches!(result, Err(GitlabError::Unauthorized { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_stops_before_a_wait_that_would_pass_it() {
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_millis(2500);
        let result: Result<(), _> = retry(
            &policy(),
            Some(deadline),
            &CancellationToken::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(server_error())
            },
        )
        .await;
        // Attempts at 0 s and 1 s; the next wait (2 s) would end past 2.5 s.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        match result {
            Err(GitlabError::DeadlineExceeded { attempts, last }) => {
                assert_eq!(attempts, 2);
                assert!(matches!(*last, GitlabError::Server { status: 503, .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_interrupts_a_hanging_attempt() {
        let deadline = Instant::now() + Duration::from_secs(3);
        let result: Result<(), _> = retry(
            &policy(),
            Some(deadline),
            &CancellationToken::new(),
            || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            },
        )
        .await;
        assert!(matches!(
            result,
            Err(GitlabError::DeadlineExceeded { attempts: 1, .. })
        ));
        assert_eq!(Instant::now(), deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_the_wait() {
        let cancel = CancellationToken::new();
        let canceller = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            canceller.cancel();
        });
        let result: Result<(), _> =
            retry(&policy(), None, &cancel, || async { Err(server_error()) }).await;
        match result {
            Err(GitlabError::Cancelled { last: Some(last) }) => {
                assert!(matches!(*last, GitlabError::Server { .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn attempt_limit_reports_the_last_error() {
        let limited = RetryPolicy {
            max_attempts: Some(3),
            ..policy()
        };
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(&limited, None, &CancellationToken::new(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server_error())
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(matches!(
            result,
            Err(GitlabError::RetriesExhausted { attempts: 3, .. })
        ));
    }
}
