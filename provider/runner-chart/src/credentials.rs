//! Recognising credentials by key name and by value shape, and saying where each belongs.
//!
//! Nothing here returns or formats the value it looks at.

/// Prefixes of GitLab tokens: runner authentication (`glrt-`), legacy registration (`GR1348941`),
/// personal/project/group access (`glpat-`), deploy (`gldt-`), trigger (`glptt-`), CI job (`glcbt-`).
const GITLAB_TOKEN_MARKERS: &[&str] =
    &["glrt-", "GR1348941", "glpat-", "gldt-", "glptt-", "glcbt-"];

/// True when `text` contains something shaped like a GitLab token or a PEM private key.
pub fn looks_like_credential(text: &str) -> bool {
    GITLAB_TOKEN_MARKERS
        .iter()
        .any(|marker| contains_token(text, marker))
        || (text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----"))
}

/// `marker` followed by at least 8 token characters (so prose such as "glrt- tokens" is not flagged).
fn contains_token(text: &str, marker: &str) -> bool {
    text.match_indices(marker).any(|(start, _)| {
        text[start + marker.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .count()
            >= 8
    })
}

/// `text` with every GitLab token in it (a marker such as `glrt-` followed by at least 8 token
/// characters) replaced by its marker and `[REDACTED]`, e.g. for a runner's log lines.
pub fn redact_tokens(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for marker in GITLAB_TOKEN_MARKERS {
            if let Some(after) = rest.strip_prefix(marker) {
                let length: usize = after
                    .chars()
                    .take_while(|c| is_token_char(*c))
                    .map(char::len_utf8)
                    .sum();
                if after[..length].chars().count() >= 8 {
                    out.push_str(marker);
                    out.push_str("[REDACTED]");
                    rest = &after[length..];
                    continue 'scan;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// True when a key's name says its value is a credential (`token`, `password`, `secretKey`,
/// `runner-registration-token`, ...). Names of Secrets (`secretName`, `runners.secret`) are not.
pub fn is_credential_key(name: &str) -> bool {
    let name = normalized(name);
    const EXACT: &[&str] = &[
        "sentrydsn",
        "accessid",
        "accountname",
        "clientsecret",
        "dsn",
    ];
    const SUFFIXES: &[&str] = &[
        "token",
        "password",
        "passwd",
        "secretkey",
        "accesskey",
        "privatekey",
        "accountkey",
        "apikey",
        "credentials",
    ];
    EXACT.contains(&name.as_str()) || SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// Where the secret held by a catalogued secret key belongs instead of `runners.config`.
pub(crate) fn secret_key_advice(section: &str, key: &str) -> String {
    let stored =
        "runners.config is stored in clear text in a ConfigMap and in the Helm release record";
    match (section, key) {
        ("runners", "token") => format!(
            "The runner authentication token belongs in a Kubernetes Secret: create it with the \
             gitlabrunner_token_secret resource and reference it from the release (chart value \
             runners.secret). {stored}, and registration blanks a token written here anyway."
        ),
        ("runners.cache.s3", _) => format!(
            "S3 cache credentials belong in a Kubernetes Secret with keys `accesskey` and `secretkey`, \
             named by the release's cache secret name (chart value runners.cache.secretName); or use \
             AuthenticationType = \"iam\". {stored}."
        ),
        ("runners.cache.gcs", _) => format!(
            "GCS cache credentials belong in a Kubernetes Secret with keys `gcs-access-id` and \
             `gcs-private-key` (or `gcs-application-credentials-file`), named by the release's cache \
             secret name (chart value runners.cache.secretName). {stored}."
        ),
        ("runners.cache.azure", _) => format!(
            "Azure cache credentials belong in a Kubernetes Secret with keys `azure-account-name` and \
             `azure-account-key`, named by the release's cache secret name (chart value \
             runners.cache.secretName). {stored}."
        ),
        ("runners.kubernetes", "bearer_token") => format!(
            "The runner manager talks to Kubernetes with its pod's service account: grant it what it \
             needs through the release's RBAC settings or an existing service account instead of a \
             bearer token. {stored}."
        ),
        ("global", "sentry_dsn") => {
            format!("A Sentry DSN carries a key. Keep it out of runners.config: {stored}.")
        }
        _ => format!("This key carries a credential. Keep it in a Kubernetes Secret: {stored}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_text_are_redacted_and_prose_is_kept() {
        assert_eq!(
            redact_tokens(
                "ERROR: Verifying runner... is removed  runner=glrt-t1_AbCdEfGh1234 status=403"
            ),
            "ERROR: Verifying runner... is removed  runner=glrt-[REDACTED] status=403"
        );
        assert_eq!(
            redact_tokens("token GR1348941xYzAbCdEf12, glrt- tokens, ünïcode"),
            "token GR1348941[REDACTED], glrt- tokens, ünïcode"
        );
    }

    #[test]
    fn token_shapes_are_recognised() {
        let cases = [
            ("glrt-t1_AbCdEfGh1234", true),
            ("export TOKEN=glrt-AbCdEfGh1234 && run", true),
            ("GR1348941AbCdEfGhIjKl", true),
            ("glpat-0123456789abcdef", true),
            ("-----BEGIN RSA PRIVATE KEY-----\nabc", true),
            ("glrt- tokens are runner tokens", false),
            ("alpine:3.20", false),
            ("", false),
        ];
        for (text, expected) in cases {
            assert_eq!(looks_like_credential(text), expected, "{text}");
        }
    }

    #[test]
    fn credential_key_names_are_recognised_but_secret_names_are_not() {
        for name in [
            "token",
            "runner-token",
            "runner-registration-token",
            "password",
            "SecretKey",
            "accesskey",
            "gcs-private-key",
            "AccountKey",
            "sentry_dsn",
            "apiKey",
        ] {
            assert!(is_credential_key(name), "{name}");
        }
        for name in [
            "secret",
            "secretName",
            "certsSecretName",
            "name",
            "tokenDigest",
            "image",
            "imagePullSecrets",
        ] {
            assert!(!is_credential_key(name), "{name}");
        }
    }
}
