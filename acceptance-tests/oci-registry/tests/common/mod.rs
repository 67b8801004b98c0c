//! Shared test helpers: real helm binaries with private homes ([`helm`]), a small HTTP client
//! ([`http`]), the fixture chart and digests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod helm;
pub mod http;

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture chart (`gitlab-runner`, version `0.86.0-fixture`).
pub fn fixture_chart() -> PathBuf {
    workspace_root().join("acceptance-tests/charts/gitlab-runner")
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
