//! Skipping a test so the runner reports it as skipped, never as a silent pass.
//!
//! Rust's test harness has no runtime "skipped" outcome, so a test that cannot run in the current
//! mode prints one line, `SKIPPED: <test>: <reason>`, and returns. `scripts/test-real-cluster.sh`
//! runs the suite with `--nocapture`, counts those lines and reports them as skipped instead of
//! passed. Use the macros, not a bare early `return`:
//!
//! ```ignore
//! let admin = acceptance::admin_or_skip!(world, "injects API faults");
//! acceptance::skip_in_real_cluster!("drives its own in-process test server");
//! acceptance::require_server_version!(world, 1, 27, "watch-list");
//! ```

use std::env;

/// The prefix the scripts count.
pub const SKIPPED_PREFIX: &str = "SKIPPED: ";

/// Whether the suite runs against a real cluster (`GITLABRUNNER_TEST_REAL_CLUSTER=1`).
pub fn real_cluster_mode() -> bool {
    env::var("GITLABRUNNER_TEST_REAL_CLUSTER").is_ok_and(|v| v == "1")
}

/// The running test's name: libtest names each test's thread after it.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("<unnamed test>")
        .to_owned()
}

/// The line a skipped test prints.
pub fn skip_line(test: &str, reason: &str) -> String {
    format!("{SKIPPED_PREFIX}{test}: {reason}")
}

/// Prints the `SKIPPED:` line for the running test (stdout, one write, so parallel tests'
/// lines never interleave).
pub fn report(reason: &str) {
    println!("{}", skip_line(&current_test(), reason));
}

/// Reports the running test as skipped with a reason (`format!` arguments) and returns from it.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::skip::report(&format!($($reason)+));
        return;
    }};
}

/// Skips the running test in real-cluster mode (it needs something only the test world has).
#[macro_export]
macro_rules! skip_in_real_cluster {
    ($($reason:tt)+) => {
        if $crate::skip::real_cluster_mode() {
            $crate::skip!(
                "real-cluster mode: {}",
                format!($($reason)+)
            );
        }
    };
}

/// The test server's admin surface of `world`, or skip the test (real-cluster mode) saying what
/// it would have been used for.
#[macro_export]
macro_rules! admin_or_skip {
    ($world:expr, $($why:tt)+) => {
        match $world.admin() {
            Some(admin) => admin,
            None => $crate::skip!(
                "needs the kube-test-server admin surface ({}), which a real cluster lacks",
                format!($($why)+)
            ),
        }
    };
}

/// Skips the running test when the world's API server is older than `major.minor`.
#[macro_export]
macro_rules! require_server_version {
    ($world:expr, $major:expr, $minor:expr, $($what:tt)+) => {
        let version = $world.server_version();
        if version < ($major, $minor) {
            $crate::skip!(
                "{} needs Kubernetes >= {}.{}, the server is {}.{}",
                format!($($what)+),
                $major,
                $minor,
                version.0,
                version.1
            );
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_line_names_the_test_and_the_reason() {
        assert_eq!(
            skip_line("drain::a_test", "needs faults"),
            "SKIPPED: drain::a_test: needs faults"
        );
        assert!(current_test().contains("the_skip_line_names_the_test_and_the_reason"));
    }
}
