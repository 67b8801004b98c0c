//! Route tests over real HTTP (reqwest with rustls) against an in-process server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod https;
mod jobs;
mod managers;
mod runners;
mod test_surface;
mod token_rotation;
mod user_runners;
mod verify;
mod world;
