//! The redirect policy: follow a redirect only within the origin (scheme, host and port) the
//! request was sent to.
//!
//! reqwest's default policy follows any redirect and strips only `Authorization` and `Cookie`
//! when the host changes: `PRIVATE-TOKEN` would go along, a 307/308 would replay a body holding
//! the runner token, and `https` → `http` would be followed. A redirect to another origin is
//! therefore an error ([`CrossOriginRedirect`]) and nothing is sent there.

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Same-origin redirects followed before giving up (reqwest's default is 10).
pub const MAX_REDIRECTS: usize = 10;

/// A redirect to another scheme, host or port than the request's, refused before anything was
/// sent there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("redirect from {from} to {to} refused")]
pub struct CrossOriginRedirect {
    /// Where the request went (scheme, host, port and path; no query or user information).
    pub from: String,
    /// Where GitLab (or a proxy) redirected to, shown the same way.
    pub to: String,
}

/// More than [`MAX_REDIRECTS`] same-origin redirects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects, the last to {to}")]
pub struct TooManyRedirects {
    /// The redirect that was not followed, shown without query or user information.
    pub to: String,
}

/// The client's policy: same-origin redirects only, at most [`MAX_REDIRECTS`].
pub fn same_origin_policy() -> Policy {
    Policy::custom(decide)
}

fn decide(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    // `previous()` starts with the URL the request was sent to.
    let Some(first) = attempt.previous().first() else {
        return attempt.stop();
    };
    let next = attempt.url();
    if !same_origin(first, next) {
        let refused = CrossOriginRedirect {
            from: shown(first),
            to: shown(next),
        };
        return attempt.error(refused);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        let too_many = TooManyRedirects { to: shown(next) };
        return attempt.error(too_many);
    }
    attempt.follow()
}

/// Same scheme, host and port (the port a scheme implies counts as given).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL for messages: scheme, host, port and path, without user information, query or
/// fragment (which may carry credentials).
pub fn shown(url: &Url) -> String {
    let mut clean = url.clone();
    // Both fail only for URLs that cannot have credentials (e.g. `data:`).
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_query(None);
    clean.set_fragment(None);
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        let base = url("https://gitlab.example.com/api/v4/runners/1");
        assert!(same_origin(
            &base,
            &url("https://GitLab.example.com:443/api/v4/runners/1/")
        ));
        for other in [
            "http://gitlab.example.com/api/v4/runners/1",
            "https://gitlab.example.com:8443/api/v4/runners/1",
            "https://gitlab.example.org/api/v4/runners/1",
            "https://evil.example.com/api/v4/runners/1",
        ] {
            assert!(!same_origin(&base, &url(other)), "{other}");
        }
    }

    #[test]
    fn shown_urls_lose_credentials_query_and_fragment() {
        assert_eq!(
            shown(&url(
                "https://user:secret@gitlab.example.org:8443/api/v4/runners?private_token=glpat-x#top"
            )),
            "https://gitlab.example.org:8443/api/v4/runners"
        );
    }
}
