//! Redaction of secret values from every string that leaves the crate (commands, stderr, errors).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Replaces every occurrence of each secret, and of its standard base64 form, with [`MASK`].
/// Empty secrets are ignored. Longer secrets are replaced first so that a secret containing
/// another is masked whole.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut needles: Vec<String> = secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .flat_map(|secret| [(*secret).to_string(), STANDARD.encode(secret.as_bytes())])
        .collect();
    needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
    needles.dedup();
    needles.iter().fold(text.to_string(), |acc, needle| {
        acc.replace(needle.as_str(), MASK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_base64_forms() {
        let text = "Error: password s3cr3t rejected; data czNjcjN0 echoed";
        assert_eq!(
            redact(text, &["s3cr3t"]),
            "Error: password *** rejected; data *** echoed"
        );
    }

    #[test]
    fn masks_the_longest_secret_first_and_ignores_empty_ones() {
        let text = "token glrt-abcdef and prefix glrt-";
        assert_eq!(
            redact(text, &["", "glrt-", "glrt-abcdef"]),
            "token *** and prefix ***"
        );
    }

    #[test]
    fn leaves_text_without_secrets_untouched() {
        assert_eq!(redact("all fine", &["nothere"]), "all fine");
    }
}
