//! Timestamps in the shape GitLab's API prints them: `2016-01-25T16:39:48.066Z`.

use time::OffsetDateTime;
use time::macros::format_description;

/// The current time in UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Formats a timestamp as GitLab does (UTC, millisecond precision, `Z` suffix).
pub fn format(at: OffsetDateTime) -> String {
    let layout =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&layout)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Formats an optional timestamp, `None` becoming JSON `null`.
pub fn format_opt(at: Option<OffsetDateTime>) -> serde_json::Value {
    at.map_or(serde_json::Value::Null, |at| {
        serde_json::Value::String(format(at))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z_suffix() {
        let at = time::macros::datetime!(2016-01-25 16:39:48.066123 UTC);
        assert_eq!(format(at), "2016-01-25T16:39:48.066Z");
    }

    #[test]
    fn converts_other_offsets_to_utc() {
        let at = time::macros::datetime!(2016-01-25 18:39:48.5 +02:00);
        assert_eq!(format(at), "2016-01-25T16:39:48.500Z");
    }
}
