//! Plan-time checks of a CA bundle given as an attribute (the registry's CA of a release, GitLab's
//! CA in the provider block): every PEM block must be an X.509 certificate, and an expired one is
//! worth a warning before it breaks a TLS connection.

use tfplugin::{AttributePath, Diagnostic};
use time::OffsetDateTime;

use super::{expired, parse_chain};

/// What a bundle is for, in the diagnostics.
pub struct CaBundle<'a> {
    /// The attribute's name as the user wrote it, e.g. `repository_ca_certificate`.
    pub attribute: &'a str,
    /// Where it is, for the diagnostics' attribute path.
    pub path: AttributePath,
    /// Title-case noun for summaries, e.g. `Repository CA Certificate`.
    pub subject: &'a str,
    /// What an expired certificate breaks, and what to do.
    pub consequence: &'a str,
}

impl CaBundle<'_> {
    /// An error when `pem` is not a chain of certificates; a warning per expired certificate.
    pub fn check(&self, pem: &str) -> Vec<Diagnostic> {
        match parse_chain(pem.as_bytes()) {
            Err(error) => vec![
                Diagnostic::error(
                    format!("Invalid {}", self.subject),
                    format!("{} {error}.", self.attribute),
                )
                .at(self.path.clone()),
            ],
            Ok(chain) => expired(&chain, OffsetDateTime::now_utc())
                .into_iter()
                .map(|lapsed| {
                    Diagnostic::warning(
                        format!("{} Expired", self.subject),
                        format!("In {}, {lapsed}: {}", self.attribute, self.consequence),
                    )
                    .at(self.path.clone())
                })
                .collect(),
        }
    }
}
