//! What the drain tells the user — a warning it reports, or the text of an error — as a typed
//! value, not a Terraform diagnostic. The release turns each into a diagnostic at the
//! resource's edge (`resources/release/drain.rs`).

use std::fmt;

/// A Title Case summary and what happened, what state things are in, what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainMessage {
    pub summary: String,
    pub detail: String,
}

impl DrainMessage {
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> DrainMessage {
        DrainMessage {
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for DrainMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary, self.detail)
    }
}
