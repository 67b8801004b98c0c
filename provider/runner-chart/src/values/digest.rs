//! A digest of the runner token, carried as a pod annotation so that rotating the token Secret rolls
//! the manager Deployment (the chart's own checksum annotation does not cover an external Secret).

use std::fmt;

use sha2::{Digest, Sha256};

/// The pod annotation that carries [`TokenDigest`].
pub const TOKEN_DIGEST_ANNOTATION: &str = "gitlabrunner.io/token-digest";

/// `sha256:<64 hex digits>` of a token (or of a token Secret's data). Only constructible from the
/// secret itself, so a raw token can never be put where a digest belongs. A SHA-256 of a
/// high-entropy token reveals nothing usable about it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// The digest of one token.
    pub fn of_token(token: &str) -> Self {
        Self::of_secret_data([("token", token.as_bytes())])
    }

    /// The digest of a Secret's data (key → bytes), independent of the order entries are given in.
    pub fn of_secret_data<'a>(entries: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut entries: Vec<(&str, &[u8])> = entries.into_iter().collect();
        entries.sort_unstable();
        let mut hasher = Sha256::new();
        for (key, value) in entries {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            hasher.update((key.len() as u64).to_be_bytes());
            hasher.update(key.as_bytes());
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(value);
        }
        Self(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenDigest").field(&self.0).finish()
    }
}

impl fmt::Display for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_change_with_the_token_and_never_contain_it() {
        let first = TokenDigest::of_token("glrt-first-token-value");
        let second = TokenDigest::of_token("glrt-second-token-value");
        assert_ne!(first, second);
        assert_eq!(first, TokenDigest::of_token("glrt-first-token-value"));
        assert!(first.as_str().starts_with("sha256:") && first.as_str().len() == 7 + 64);
        assert!(!format!("{first:?} {first}").contains("first-token"));
    }

    #[test]
    fn secret_data_digests_ignore_entry_order_but_not_boundaries() {
        let a = TokenDigest::of_secret_data([
            ("runner-token", &b"glrt-x"[..]),
            ("runner-registration-token", &b""[..]),
        ]);
        let b = TokenDigest::of_secret_data([
            ("runner-registration-token", &b""[..]),
            ("runner-token", &b"glrt-x"[..]),
        ]);
        assert_eq!(a, b);
        let c = TokenDigest::of_secret_data([("ab", &b"c"[..])]);
        let d = TokenDigest::of_secret_data([("a", &b"bc"[..])]);
        assert_ne!(c, d);
    }
}
