//! What the drain reports without failing: a typed value, not a Terraform diagnostic. The
//! release turns each into a warning diagnostic at the resource's edge
//! (`resources/release/drain.rs`).

use std::fmt;

/// A warning of the drain: a Title Case summary and what happened / what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainWarning {
    pub summary: String,
    pub detail: String,
}

impl DrainWarning {
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> DrainWarning {
        DrainWarning {
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for DrainWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary, self.detail)
    }
}
