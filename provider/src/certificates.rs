//! Reading a PEM chain: every block must be an X.509 certificate; the first one (the leaf, or
//! a CA) supplies the fingerprint, expiry, subject and DNS names the resource exposes.
//!
//! Below the provider block and the resources alike (provider/ARCHITECTURE.md): `config.rs`, the
//! cert Secret resource and the release all read certificates here, and [`ca_bundle`] is the one
//! plan-time check of a CA bundle attribute.

pub mod ca_bundle;

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

/// One parsed certificate of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub not_after: OffsetDateTime,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub is_ca: bool,
    /// Upper-case hex pairs joined by `:` (the form `openssl x509 -fingerprint -sha256` prints).
    pub sha256_fingerprint: String,
}

/// Why a PEM chain was refused. Certificates are public, but messages still quote no content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("holds no PEM block (expected one or more \"-----BEGIN CERTIFICATE-----\" blocks)")]
    Empty,
    #[error("PEM block {index} cannot be read: {reason}")]
    BadPem { index: usize, reason: String },
    #[error("PEM block {index} is a {label:?}, not a CERTIFICATE (never put a private key here)")]
    NotACertificate { index: usize, label: String },
    #[error("PEM block {index} is not a valid X.509 certificate: {reason}")]
    BadCertificate { index: usize, reason: String },
}

/// Parses every PEM block of `pem` (1-based indexes in errors).
pub fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateInfo>, ChainError> {
    let mut chain = Vec::new();
    for (i, block) in Pem::iter_from_buffer(pem).enumerate() {
        let index = i + 1;
        let block = block.map_err(|e| ChainError::BadPem {
            index,
            reason: e.to_string(),
        })?;
        if block.label != "CERTIFICATE" {
            return Err(ChainError::NotACertificate {
                index,
                label: block.label,
            });
        }
        let cert = block.parse_x509().map_err(|e| ChainError::BadCertificate {
            index,
            reason: e.to_string(),
        })?;
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            ip_addresses.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        chain.push(CertificateInfo {
            subject: cert.subject().to_string(),
            not_after: cert.validity().not_after.to_datetime(),
            dns_names,
            ip_addresses,
            is_ca: cert.is_ca(),
            sha256_fingerprint: fingerprint(&block.contents),
        });
    }
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    Ok(chain)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 3339 in UTC, e.g. `2027-01-31T12:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Whether the certificate's names cover `host` (DNS names with one-label wildcards, or IPs).
pub fn covers_host(cert: &CertificateInfo, host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return cert.ip_addresses.contains(&ip);
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    cert.dns_names.iter().any(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => name == host,
        }
    })
}

/// The certificates of `chain` that have expired as of `now`, described for a diagnostic
/// ("certificate 2 of 3 (CN=…) expired on …").
pub fn expired(chain: &[CertificateInfo], now: OffsetDateTime) -> Vec<String> {
    chain
        .iter()
        .enumerate()
        .filter(|(_, cert)| cert.not_after <= now)
        .map(|(i, cert)| {
            format!(
                "certificate {} of {} ({}) expired on {}",
                i + 1,
                chain.len(),
                cert.subject,
                rfc3339(cert.not_after)
            )
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    /// A self-signed certificate for `names`, valid `days` from now (negative: already expired).
    pub fn certificate(names: &[&str], days: i64, ca: bool) -> String {
        let mut params =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(400);
        params.not_after = now + time::Duration::days(days);
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_chain_parses_block_by_block() {
        let pem = format!(
            "{}{}",
            certificate(&["gitlab.example.com"], 90, false),
            certificate(&[], 900, true)
        );
        let chain = parse_chain(pem.as_bytes()).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].dns_names, vec!["gitlab.example.com"]);
        assert!(!chain[0].is_ca && chain[1].is_ca);
        assert_eq!(chain[0].sha256_fingerprint.len(), 32 * 3 - 1);
        assert!(rfc3339(chain[0].not_after).ends_with('Z'));
    }

    #[test]
    fn bad_input_names_the_block() {
        assert_eq!(parse_chain(b"hello"), Err(ChainError::Empty));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let with_key = format!("{}{key}", certificate(&["a.example"], 90, false));
        assert!(matches!(
            parse_chain(with_key.as_bytes()),
            Err(ChainError::NotACertificate { index: 2, .. })
        ));
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_chain(garbage.as_bytes()),
            Err(ChainError::BadCertificate { index: 1, .. })
        ));
    }

    #[test]
    fn host_coverage_with_wildcards_and_ips() {
        let cert = parse_chain(
            certificate(&["*.example.com", "gitlab.test", "10.0.0.1"], 90, false).as_bytes(),
        )
        .unwrap()
        .remove(0);
        assert!(covers_host(&cert, "gitlab.example.com"));
        assert!(covers_host(&cert, "GITLAB.TEST"));
        assert!(!covers_host(&cert, "example.com"));
        assert!(!covers_host(&cert, "a.b.example.com"));
        assert!(covers_host(&cert, "10.0.0.1"));
        assert!(!covers_host(&cert, "10.0.0.2"));
    }
}
