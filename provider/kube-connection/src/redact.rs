//! Small helpers that keep secret material out of `Debug` output and error messages.

/// `Some("<set>")` / `None` instead of the value.
pub(crate) fn presence(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| "<set>")
}

/// A URL with any `user:password@` part replaced by `***@`.
pub(crate) fn url_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_userinfo_is_masked_and_plain_urls_kept() {
        assert_eq!(
            url_userinfo("http://u:p@proxy:3128/x"),
            "http://***@proxy:3128/x"
        );
        assert_eq!(url_userinfo("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(url_userinfo("not a url"), "not a url");
    }
}
