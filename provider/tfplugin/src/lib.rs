//! (work in progress)
pub mod proto;
