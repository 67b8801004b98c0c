//! The cert Secret's plan-time warnings about the chain it writes: expiry against
//! `expiry_warning_days`, and a leaf whose names do not cover the GitLab host.

use time::OffsetDateTime;

use crate::certificates::{CertificateInfo, covers_host, rfc3339};

/// A problem worth a warning: an expired or soon-expiring certificate, or a leaf whose names
/// do not cover the GitLab host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub summary: &'static str,
    pub detail: String,
}

/// Warnings for `chain` used to reach `host`, as of `now`.
pub fn findings(
    chain: &[CertificateInfo],
    host: &str,
    warn_days: i64,
    now: OffsetDateTime,
) -> Vec<Finding> {
    // Checked: a window past the end of time covers every certificate (`None`).
    let horizon = warn_days
        .checked_mul(86_400)
        .and_then(|seconds| now.checked_add(time::Duration::seconds(seconds)));
    let mut out = Vec::new();
    for (i, cert) in chain.iter().enumerate() {
        let position = if chain.len() == 1 {
            "The certificate".to_owned()
        } else {
            format!(
                "Certificate {} of {} ({})",
                i + 1,
                chain.len(),
                cert.subject
            )
        };
        if cert.not_after <= now {
            out.push(Finding {
                summary: "Certificate Expired",
                detail: format!(
                    "{position} expired on {}. The runner will refuse TLS connections to {host} until it is renewed.",
                    rfc3339(cert.not_after)
                ),
            });
        } else if horizon.is_none_or(|horizon| cert.not_after <= horizon) {
            let days = (cert.not_after - now).whole_days();
            out.push(Finding {
                summary: "Certificate Expires Soon",
                detail: format!(
                    "{position} expires on {} (in {days} day(s), within expiry_warning_days = {warn_days}). Renew it before then.",
                    rfc3339(cert.not_after)
                ),
            });
        }
    }
    if let Some(leaf) = chain.first()
        && !leaf.is_ca
        && !covers_host(leaf, host)
    {
        {
            let names = if leaf.dns_names.is_empty() && leaf.ip_addresses.is_empty() {
                "no subject alternative names".to_owned()
            } else {
                let mut all: Vec<String> = leaf.dns_names.clone();
                all.extend(leaf.ip_addresses.iter().map(ToString::to_string));
                format!("the names {}", all.join(", "))
            };
            out.push(Finding {
                summary: "Certificate Does Not Match The GitLab Host",
                detail: format!(
                    "The first certificate ({}) is a server certificate with {names}, none of which is {host}. TLS verification of {host} will fail unless this file also holds a CA that signed GitLab's real certificate; check gitlab_url / gitlab_hostname, or put the CA first.",
                    leaf.subject
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificates::parse_chain;
    use crate::certificates::tests::certificate;

    #[test]
    fn findings_warn_about_expiry_and_names_but_not_for_a_ca() {
        let now = OffsetDateTime::now_utc();
        let soon = parse_chain(certificate(&["gitlab.example.com"], 10, false).as_bytes()).unwrap();
        let f = findings(&soon, "gitlab.example.com", 30, now);
        assert_eq!(
            f.iter().map(|f| f.summary).collect::<Vec<_>>(),
            vec!["Certificate Expires Soon"]
        );
        assert!(findings(&soon, "gitlab.example.com", 5, now).is_empty());
        let expired =
            parse_chain(certificate(&["other.example.com"], -1, false).as_bytes()).unwrap();
        let f = findings(&expired, "gitlab.example.com", 30, now);
        assert_eq!(
            f.iter().map(|f| f.summary).collect::<Vec<_>>(),
            vec![
                "Certificate Expired",
                "Certificate Does Not Match The GitLab Host"
            ]
        );
        assert!(f[1].detail.contains("other.example.com"));
        let ca = parse_chain(certificate(&[], 900, true).as_bytes()).unwrap();
        assert!(findings(&ca, "gitlab.example.com", 30, now).is_empty());
    }

    #[test]
    fn a_warning_window_past_the_end_of_time_covers_every_certificate() {
        let now = OffsetDateTime::now_utc();
        let far =
            parse_chain(certificate(&["gitlab.example.com"], 3000, false).as_bytes()).unwrap();
        for days in [i64::MAX, i64::MAX / 86_400, 4_000_000_000] {
            let f = findings(&far, "gitlab.example.com", days, now);
            assert_eq!(
                f.iter().map(|f| f.summary).collect::<Vec<_>>(),
                vec!["Certificate Expires Soon"],
                "{days}"
            );
        }
    }
}
