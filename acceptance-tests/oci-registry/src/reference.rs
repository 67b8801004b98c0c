//! Repository names, tags and digests: validation per the distribution spec, and hashing.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{ErrorCode, OciError};

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Longest repository name accepted (distribution's limit).
const NAME_MAX: usize = 255;

/// Checks a repository name (`charts/gitlab-runner`).
pub fn validate_name(name: &str) -> Result<(), OciError> {
    if name.len() <= NAME_MAX && NAME.is_match(name) {
        Ok(())
    } else {
        Err(
            OciError::new(400, ErrorCode::NameInvalid, "invalid repository name")
                .with_detail(serde_json::json!({ "name": name })),
        )
    }
}

/// Checks a tag (`0.86.0-fixture`, `1.2.3_meta`).
pub fn validate_tag(tag: &str) -> Result<(), OciError> {
    if TAG.is_match(tag) {
        Ok(())
    } else {
        Err(OciError::new(400, ErrorCode::TagInvalid, "invalid tag")
            .with_detail(serde_json::json!({ "tag": tag })))
    }
}

/// A supported digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The digest of `bytes` with this algorithm.
    pub fn digest(self, bytes: &[u8]) -> Digest {
        let hash: Vec<u8> = match self {
            Algorithm::Sha256 => Sha256::digest(bytes).to_vec(),
            Algorithm::Sha512 => Sha512::digest(bytes).to_vec(),
        };
        Digest {
            algorithm: self,
            hex: hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// A validated content digest such as `sha256:9f86…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    #[cfg(test)]
    pub fn sha256(bytes: &[u8]) -> Digest {
        Algorithm::Sha256.digest(bytes)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = OciError;

    fn from_str(s: &str) -> Result<Digest, OciError> {
        let invalid = |why: &str| {
            OciError::digest_invalid(format!("invalid digest: {why}"))
                .with_detail(serde_json::json!({ "digest": s }))
        };
        if !DIGEST.is_match(s) {
            return Err(invalid("malformed digest"));
        }
        let (algorithm, hex) = s
            .split_once(':')
            .ok_or_else(|| invalid("malformed digest"))?;
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(invalid("unsupported digest algorithm")),
        };
        let lower_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex.len() != algorithm.hex_len() || !lower_hex {
            return Err(invalid("malformed encoded part"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// Parses a reference: anything with a `:` must be a digest, anything else a tag.
    pub fn parse(s: &str) -> Result<Reference, OciError> {
        if s.contains(':') {
            s.parse().map(Reference::Digest)
        } else {
            validate_tag(s).map(|()| Reference::Tag(s.to_string()))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec_grammar() {
        for ok in ["charts/gitlab-runner", "a", "a.b_c__d---e/f0", "x/y/z"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a___b",
            "a-",
            "-a",
            "a:b",
            &"a".repeat(256),
        ] {
            assert_eq!(
                validate_name(bad).err().map(|e| e.code),
                Some(ErrorCode::NameInvalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        assert!(validate_tag("1.2.3_meta").is_ok());
        assert!(validate_tag("_x").is_ok());
        assert!(validate_tag(&"a".repeat(128)).is_ok());
        assert!(validate_tag(&"a".repeat(129)).is_err());
        assert!(validate_tag(".x").is_err());
        assert!(validate_tag("1.2.3+meta").is_err());
    }

    #[test]
    fn digests_parse_and_hash() {
        let d = Digest::sha256(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.to_string().parse::<Digest>().ok(), Some(d));
        assert!(
            Algorithm::Sha512
                .digest(b"x")
                .to_string()
                .starts_with("sha512:")
        );
        for bad in [
            "sha256:abc",
            "md5:0123",
            "sha256",
            "SHA256:00",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert_eq!(
                bad.parse::<Digest>().err().map(|e| e.code),
                Some(ErrorCode::DigestInvalid),
                "{bad}"
            );
        }
        assert_eq!(
            Reference::parse("v1").ok(),
            Some(Reference::Tag("v1".into()))
        );
        assert!(
            matches!(Reference::parse("sha256:zz"), Err(e) if e.code == ErrorCode::DigestInvalid)
        );
        assert!(matches!(Reference::parse("-v"), Err(e) if e.code == ErrorCode::TagInvalid));
    }
}
