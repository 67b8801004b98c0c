//! The client against the GitLab API test server, over real HTTP, including injected faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calls;
mod redirects;
mod retries;
mod runner_lifecycle;
mod waiting;
mod world;
