//! Retrying API calls with backoff inside an operation's time limit: **the** retry policy of the
//! provider's Kubernetes calls (the client itself does not retry).
//!
//! Transient answers (429, 500, 502, 503, 504, dropped connections) are retried with jittered
//! backoff until the operation's `timeouts` value runs out or Terraform cancels; everything else
//! (401, 403, 404, 409, 422, …) is reported after the first answer. See
//! [`KubeError::is_transient`]. A call that writes also empties the refresh's shared reads
//! ([`super::reads`]) before and after it.

use std::future::Future;
use std::time::{Duration, Instant};

use tfplugin::{CancellationToken, Context};

use super::error::KubeError;
use super::reads::invalidate_reads;
use super::request::Action;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The provider's one cancellation grace policy: what may still run after Terraform cancels an
/// operation (`StopProvider`, a terminal Ctrl-C) or its time runs out. A second Ctrl-C makes
/// Terraform kill the provider, and helm dies with it (`helm_driver::parent_death`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelGrace {
    /// How long a helm process that changes the release (install, upgrade, rollback,
    /// uninstall) goes on after `StopProvider` before it is sent SIGTERM (helm-driver's
    /// `RunOptions::cancel_grace`): helm has no safe stopping point, and a release stopped
    /// mid-way is `failed` (a create is then tainted).
    pub helm: Duration,
    /// What must not be lost once helm ran — reading back the revision helm recorded, resuming a
    /// runner the drain paused — gets a fresh time limit this long, which `StopProvider` does
    /// not cancel, when the operation was cancelled or has less than this left
    /// ([`Budget::or_grace`]).
    pub finish: Duration,
}

impl CancelGrace {
    /// Whether work that must finish gets the fresh [`finish`](Self::finish) grace instead of
    /// what its operation has left: the operation was cancelled, or less than `finish` is left.
    pub fn applies(&self, cancelled: bool, remaining: Duration) -> bool {
        cancelled || remaining < self.finish
    }
}

/// The policy every operation uses.
pub const CANCEL_GRACE: CancelGrace = CancelGrace {
    helm: Duration::from_secs(30),
    finish: Duration::from_secs(15),
};

/// The time an operation may take, and the token that cancels it.
#[derive(Clone, Debug)]
pub struct Budget {
    started: Instant,
    limit: Duration,
    cancel: CancellationToken,
}

impl Budget {
    /// A budget of `limit` starting now, cancelled with `ctx` (Terraform's `StopProvider`).
    pub fn new(limit: Duration, ctx: &Context) -> Budget {
        Budget::with_token(limit, ctx.cancellation().clone())
    }

    pub fn with_token(limit: Duration, cancel: CancellationToken) -> Budget {
        Budget {
            started: Instant::now(),
            limit,
            cancel,
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time left (zero when spent).
    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.started.elapsed())
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// This budget, or — when it was cancelled or has less than [`CancelGrace::finish`] left — a
    /// fresh one of that length that `StopProvider` does not cancel: for the work
    /// [`CANCEL_GRACE`] says must finish (e.g. reading back what helm recorded).
    pub fn or_grace(&self) -> Budget {
        if CANCEL_GRACE.applies(self.is_cancelled(), self.remaining()) {
            Budget::with_token(CANCEL_GRACE.finish, CancellationToken::new())
        } else {
            self.clone()
        }
    }

    /// Runs `call` until it succeeds, fails for good, the budget runs out or it is cancelled.
    /// The client's errors become [`KubeError`]s with [`classify`].
    pub async fn retry<T, F, Fut>(&self, action: &Action, call: F) -> Result<T, KubeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let writes = action.verb.writes();
        if writes {
            invalidate_reads();
        }
        let result = self
            .retry_classified(action, call, |error, attempts| {
                classify(action, error, attempts)
            })
            .await;
        if writes {
            invalidate_reads();
        }
        result
    }

    /// As [`Budget::retry`] for calls whose errors are not the client's own (e.g. a helm-driver
    /// read): `to_kube` turns an error and the attempt count into a [`KubeError`], whose
    /// [`KubeError::is_transient`] decides whether to try again.
    pub async fn retry_classified<T, E, F, Fut, C>(
        &self,
        action: &Action,
        mut call: F,
        to_kube: C,
    ) -> Result<T, KubeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(E, u32) -> KubeError,
    {
        let mut attempts: u32 = 0;
        let mut backoff = FIRST_BACKOFF;
        loop {
            attempts += 1;
            let remaining = self.remaining();
            let outcome = tokio::select! {
                () = self.cancel.cancelled() => return Err(KubeError::Cancelled { action: Box::new(action.clone()) }),
                r = tokio::time::timeout(remaining, call()) => r,
            };
            let error = match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => to_kube(e, attempts),
                Err(_elapsed) => KubeError::Transport {
                    action: Box::new(action.clone()),
                    message: "the request did not finish in time".into(),
                    attempts,
                },
            };
            if !error.is_transient() {
                return Err(error);
            }
            let wait = jittered(backoff).max(retry_after(&error));
            if wait >= self.remaining() {
                return Err(KubeError::Timeout {
                    action: Box::new(action.clone()),
                    attempts,
                    elapsed: self.elapsed(),
                    limit: self.limit,
                    last: short(&error),
                });
            }
            tracing::debug!(action = %action, attempt = attempts, wait_ms = wait.as_millis() as u64, "retrying a transient Kubernetes API error");
            tokio::select! {
                () = self.cancel.cancelled() => return Err(KubeError::Cancelled { action: Box::new(action.clone()) }),
                () = tokio::time::sleep(wait) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// The last error in a few words, for the timeout message.
fn short(error: &KubeError) -> String {
    match error {
        KubeError::Api {
            code,
            reason,
            message,
            ..
        } => {
            if message.is_empty() {
                format!("{code} {reason}")
            } else {
                format!("{code} {reason}: {message}")
            }
        }
        KubeError::Transport { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn retry_after(error: &KubeError) -> Duration {
    match error {
        KubeError::Api { code: 429, .. } => Duration::from_millis(500),
        _ => Duration::ZERO,
    }
}

/// `base` plus up to 25 % random jitter, so parallel resources do not retry in lockstep.
fn jittered(base: Duration) -> Duration {
    let quarter = u64::try_from(base.as_millis() / 4).unwrap_or(0);
    base + Duration::from_millis(fastrand::u64(0..=quarter))
}

/// Turns the client's error into a [`KubeError`] for `action`. Only the API server's `Status`
/// message and error kinds are kept: response bodies and serde messages (which could quote a
/// Secret's data) never are.
pub fn classify(action: &Action, error: kube::Error, attempts: u32) -> KubeError {
    match error {
        kube::Error::Api(status) => {
            let about_namespace = status
                .details
                .as_ref()
                .is_some_and(|d| d.kind == "namespaces" && d.name == action.namespace)
                || status.message == format!("namespaces \"{}\" not found", action.namespace);
            let namespace_missing = status.code == 404 && about_namespace;
            KubeError::Api {
                action: Box::new(action.clone()),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                namespace_missing,
                attempts,
            }
        }
        kube::Error::SerdeError(e) => KubeError::Decode {
            action: Box::new(action.clone()),
            detail: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        },
        kube::Error::FromUtf8(_) => KubeError::Decode {
            action: Box::new(action.clone()),
            detail: "the answer is not UTF-8".into(),
        },
        e @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
            let message = error_chain(&e);
            if is_tls_or_auth_failure(&message) {
                KubeError::Other {
                    action: Box::new(action.clone()),
                    message,
                }
            } else {
                KubeError::Transport {
                    action: Box::new(action.clone()),
                    message,
                    attempts,
                }
            }
        }
        other => KubeError::Other {
            action: Box::new(action.clone()),
            message: error_chain(&other),
        },
    }
}

/// Certificate and credential problems do not heal by retrying.
fn is_tls_or_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "certificate",
        "invalid peer",
        "handshake",
        "unknownissuer",
        "auth",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// The error and its sources, `a: b: c`, without repeating a cause already printed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::request::Verb;
    use kube::core::Status;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn action() -> Action {
        Action::new(Verb::Get, "secrets", "", "ns", "name")
    }

    #[test]
    fn the_grace_applies_when_cancelled_or_with_less_than_the_grace_left() {
        let finish = CANCEL_GRACE.finish;
        assert!(CANCEL_GRACE.applies(true, finish * 4));
        assert!(CANCEL_GRACE.applies(false, Duration::from_secs(1)));
        assert!(CANCEL_GRACE.applies(false, Duration::ZERO));
        assert!(!CANCEL_GRACE.applies(false, finish));
        assert!(!CANCEL_GRACE.applies(false, finish * 4));
    }

    #[test]
    fn a_cancelled_or_nearly_spent_budget_gives_way_to_a_fresh_uncancelled_grace() {
        let healthy = Budget::with_token(Duration::from_secs(600), CancellationToken::new());
        let kept = healthy.or_grace();
        assert_eq!(kept.limit(), healthy.limit());
        healthy.cancel.cancel();
        assert!(
            kept.is_cancelled(),
            "the operation's own budget, its token too"
        );

        let grace = healthy.or_grace();
        assert_eq!(grace.limit(), CANCEL_GRACE.finish);
        assert!(
            !grace.is_cancelled(),
            "StopProvider does not cancel the grace"
        );

        let nearly_spent = Budget::with_token(Duration::from_secs(5), CancellationToken::new());
        assert_eq!(nearly_spent.or_grace().limit(), CANCEL_GRACE.finish);
    }

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(
            Status::failure("boom", "InternalError")
                .with_code(code)
                .boxed(),
        )
    }

    /// The one retry rule: which answers a later attempt may not get.
    #[test]
    fn answers_are_classified_transient_or_permanent() {
        let table: [(u16, bool); 14] = [
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (405, false),
            (409, false),
            (410, false),
            (422, false),
            (429, true),
            (500, true),
            (501, false),
            (502, true),
            (503, true),
            (504, true),
        ];
        for (code, transient) in table {
            let error = classify(&action(), status(code), 1);
            assert_eq!(error.is_transient(), transient, "{code}: {error:?}");
        }
        let refused = KubeError::Transport {
            action: Box::new(action()),
            message: "connection refused".into(),
            attempts: 1,
        };
        assert!(refused.is_transient());
        let timeout = KubeError::Timeout {
            action: Box::new(action()),
            attempts: 3,
            elapsed: Duration::from_secs(1),
            limit: Duration::from_secs(1),
            last: "503".into(),
        };
        assert!(!timeout.is_transient(), "a spent budget is final");
    }

    #[tokio::test]
    async fn permanent_errors_of_any_call_are_asked_once() {
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        for code in [403, 404, 422] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = budget
                .retry_classified(
                    &action(),
                    || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Err(status(code))
                    },
                    |error, attempts| classify(&action(), error, attempts),
                )
                .await;
            assert!(
                matches!(result, Err(KubeError::Api { code: c, attempts: 1, .. }) if c == code),
                "{result:?}"
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{code}");
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        let calls = AtomicU32::new(0);
        let result = budget
            .retry(&action(), || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(status(500)),
                    1 => Err(status(429)),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let budget = Budget::with_token(Duration::from_secs(10), CancellationToken::new());
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = budget
            .retry(&action(), || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(status(403))
            })
            .await;
        assert!(matches!(result, Err(KubeError::Api { code: 403, .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_budget_bounds_retries() {
        let budget = Budget::with_token(Duration::from_millis(600), CancellationToken::new());
        let started = Instant::now();
        let result: Result<(), _> = budget.retry(&action(), || async { Err(status(503)) }).await;
        let Err(KubeError::Timeout { attempts, .. }) = result else {
            panic!("expected a timeout, got {result:?}");
        };
        assert!(attempts >= 2, "{attempts}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn cancellation_stops_the_loop() {
        let token = CancellationToken::new();
        let budget = Budget::with_token(Duration::from_secs(30), token.clone());
        token.cancel();
        let result: Result<(), _> = budget
            .retry(&action(), || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        assert!(matches!(result, Err(KubeError::Cancelled { .. })));
    }

    #[test]
    fn a_missing_namespace_is_told_apart_from_a_missing_object() {
        let ns = kube::Error::Api(
            Status::failure("namespaces \"ns\" not found", "NotFound")
                .with_code(404)
                .boxed(),
        );
        let obj = kube::Error::Api(
            Status::failure("secrets \"name\" not found", "NotFound")
                .with_code(404)
                .boxed(),
        );
        assert!(matches!(
            classify(&action(), ns, 1),
            KubeError::Api {
                namespace_missing: true,
                ..
            }
        ));
        assert!(classify(&action(), obj, 1).is_not_found());
    }
}
