//! The GitLab host the runner connects to, and the Secret key (file name) it looks for:
//! the runner trusts `/home/gitlab-runner/.gitlab-runner/certs/<hostname>.crt`.

use std::net::{IpAddr, Ipv4Addr};

/// Why a `gitlab_url` or `gitlab_hostname` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("is not a URL ({reason}); expected e.g. \"https://gitlab.example.com\"")]
    NotAUrl { reason: String },
    #[error("must use https:// or http://, got {scheme}://")]
    Scheme { scheme: String },
    #[error("has no host name")]
    NoHost,
    #[error(
        "must be a host name such as \"gitlab.example.com\" (letters, digits, \"-\" and \".\"), without scheme, port or path"
    )]
    BadHostname,
    #[error(
        "is an IPv6 address, which cannot be a Secret key (\":\" is not allowed); use a DNS name for GitLab"
    )]
    Ipv6,
}

/// The host of `gitlab_url`.
pub fn host_from_url(url: &str) -> Result<String, HostError> {
    let parsed = url::Url::parse(url).map_err(|e| HostError::NotAUrl {
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(HostError::Scheme {
            scheme: parsed.scheme().to_owned(),
        });
    }
    match parsed.host() {
        Some(url::Host::Domain(d)) => checked_hostname(d),
        Some(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Some(url::Host::Ipv6(_)) => Err(HostError::Ipv6),
        None => Err(HostError::NoHost),
    }
}

/// `gitlab_hostname`, checked.
pub fn checked_hostname(host: &str) -> Result<String, HostError> {
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(host.to_owned());
    }
    if host.parse::<IpAddr>().is_ok() {
        return Err(HostError::Ipv6);
    }
    let host = host.trim_end_matches('.');
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(HostError::BadHostname);
    }
    Ok(host.to_ascii_lowercase())
}

/// The Secret key the runner reads for `host`.
pub fn file_name(host: &str) -> String {
    format!("{host}.crt")
}

/// Whether `key` may be a Secret data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not
/// `.` or `..`.
pub fn is_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_come_from_the_host_only() {
        let cases = [
            ("https://gitlab.example.com", "gitlab.example.com.crt"),
            (
                "https://GitLab.Example.com:8443/gitlab/",
                "gitlab.example.com.crt",
            ),
            ("http://10.1.2.3:8080", "10.1.2.3.crt"),
        ];
        for (url, key) in cases {
            assert_eq!(file_name(&host_from_url(url).unwrap()), key, "{url}");
        }
        assert_eq!(
            file_name(&checked_hostname("gitlab.example.com").unwrap()),
            "gitlab.example.com.crt"
        );
    }

    #[test]
    fn bad_urls_and_hostnames_are_refused() {
        assert!(matches!(
            host_from_url("gitlab.example.com"),
            Err(HostError::NotAUrl { .. })
        ));
        assert!(matches!(
            host_from_url("ftp://gitlab.example.com"),
            Err(HostError::Scheme { .. })
        ));
        assert_eq!(host_from_url("https://[::1]/"), Err(HostError::Ipv6));
        for bad in [
            "https://gitlab.example.com",
            "gitlab.example.com:443",
            "gitlab_example.com",
            "",
            "-a.com",
        ] {
            assert!(checked_hostname(bad).is_err(), "{bad}");
        }
        assert_eq!(checked_hostname("::1"), Err(HostError::Ipv6));
    }

    #[test]
    fn secret_keys() {
        assert!(is_secret_key("ca.crt"));
        assert!(is_secret_key("gitlab.example.com.crt"));
        assert!(!is_secret_key("a/b"));
        assert!(!is_secret_key(".."));
    }
}
