//! The token attributes: which one is set, checks of its value, and the Secret data it becomes.

use std::collections::BTreeMap;

use tfplugin::{AttributePath, Diagnostics, Value};

/// Secret key the chart projects as the runner authentication token.
pub const RUNNER_TOKEN_KEY: &str = "runner-token";
/// Secret key the chart projects as the (deprecated) registration token.
pub const REGISTRATION_TOKEN_KEY: &str = "runner-registration-token";
/// Both keys, in the order `token_digest` hashes them.
pub const CHART_KEYS: [&str; 2] = [REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY];

pub const RUNNER_TOKEN: &str = "runner_token";
pub const RUNNER_TOKEN_WO: &str = "runner_token_wo";
pub const RUNNER_TOKEN_WO_VERSION: &str = "runner_token_wo_version";
pub const REGISTRATION_TOKEN: &str = "registration_token";
const SOURCES: [&str; 3] = [RUNNER_TOKEN, RUNNER_TOKEN_WO, REGISTRATION_TOKEN];

/// Runner authentication tokens (GitLab ≥ 15.11) start with this.
pub const RUNNER_TOKEN_PREFIX: &str = "glrt-";

/// Which attribute holds the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    RunnerToken,
    RunnerTokenWriteOnly,
    RegistrationToken,
}

impl Source {
    fn from_attribute(name: &str) -> Option<Source> {
        match name {
            RUNNER_TOKEN => Some(Source::RunnerToken),
            RUNNER_TOKEN_WO => Some(Source::RunnerTokenWriteOnly),
            REGISTRATION_TOKEN => Some(Source::RegistrationToken),
            _ => None,
        }
    }

    /// The Secret key this source fills (the other key is written empty).
    pub fn key(self) -> &'static str {
        match self {
            Source::RunnerToken | Source::RunnerTokenWriteOnly => RUNNER_TOKEN_KEY,
            Source::RegistrationToken => REGISTRATION_TOKEN_KEY,
        }
    }
}

/// The chosen source and its value (`None` while unknown). Holds a secret: no `Debug`.
pub struct Token {
    pub source: Source,
    pub value: Option<String>,
}

impl Token {
    /// Finds the single token attribute set in `config` (an object value); `None` when zero or
    /// several are set (`check_config` reports those).
    pub fn from_config(config: &Value) -> Option<Token> {
        let mut set = SOURCES
            .iter()
            .filter(|name| config.attr(name).is_some_and(|v| !v.is_null()));
        let name = set.next()?;
        if set.next().is_some() {
            return None;
        }
        let value = config.attr(name)?;
        Some(Token {
            source: Source::from_attribute(name)?,
            value: value.as_str().map(str::to_owned),
        })
    }

    /// Both chart keys: the token under its key, `""` under the other.
    pub fn secret_data(&self) -> Option<BTreeMap<String, Vec<u8>>> {
        let value = self.value.as_ref()?;
        let mut data: BTreeMap<String, Vec<u8>> = CHART_KEYS
            .iter()
            .map(|k| ((*k).to_owned(), Vec::new()))
            .collect();
        data.insert(self.source.key().to_owned(), value.as_bytes().to_vec());
        Some(data)
    }
}

/// Plan-time checks of the token attributes in `config`: exactly one source, the write-only
/// version only with the write-only token, and each known value's shape. Values are never
/// quoted.
pub fn check_config(config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    let set: Vec<&str> = SOURCES
        .iter()
        .copied()
        .filter(|name| config.attr(name).is_some_and(|v| !v.is_null()))
        .collect();
    match set.as_slice() {
        [] => diagnostics.attribute_error(
            AttributePath::new(RUNNER_TOKEN),
            "Missing Runner Token",
            "Set one of runner_token (the glrt- token of a runner created in GitLab, e.g. gitlab_user_runner.x.token), runner_token_wo with runner_token_wo_version (Terraform 1.11+: the token never enters state or plan), or the deprecated registration_token.",
        ),
        [_] => {}
        [first, rest @ ..] => {
            for other in rest {
                diagnostics.attribute_error(
                    AttributePath::new(*other),
                    "Conflicting Token Attributes",
                    format!("Set only one of runner_token, runner_token_wo or registration_token: {first} and {other} are both set. Remove {other}."),
                );
            }
        }
    }
    let version_set = config
        .attr(RUNNER_TOKEN_WO_VERSION)
        .is_some_and(|v| !v.is_null());
    let wo_set = config.attr(RUNNER_TOKEN_WO).is_some_and(|v| !v.is_null());
    if version_set && !wo_set {
        diagnostics.attribute_error(
            AttributePath::new(RUNNER_TOKEN_WO_VERSION),
            "Write-Only Version Without Token",
            "runner_token_wo_version only applies together with runner_token_wo. Remove it, or move the token to runner_token_wo.",
        );
    }
    for name in SOURCES {
        if let Some(value) = config.attr(name).and_then(Value::as_str) {
            check_value(name, value, &mut diagnostics);
        }
    }
    diagnostics
}

fn check_value(attribute: &str, value: &str, diagnostics: &mut Diagnostics) {
    let path = AttributePath::new(attribute);
    if value.is_empty() {
        diagnostics.attribute_error(
            path,
            "Empty Token",
            format!("{attribute} is empty. Pass the token of a runner created in GitLab."),
        );
        return;
    }
    if value.chars().any(char::is_whitespace) {
        let what = if value.contains('\n') || value.contains('\r') {
            "a line break"
        } else {
            "whitespace"
        };
        diagnostics.attribute_error(
            path,
            "Invalid Token",
            format!("{attribute} contains {what} (often a trailing newline from a file or `echo`); GitLab rejects such a token. Remove it, e.g. with trimspace(). The value is not shown because it is secret."),
        );
        return;
    }
    if let Some((summary, detail)) = kind_mismatch(attribute, value) {
        diagnostics.attribute_warning(path, summary, detail);
    }
}

/// A warning when the token's prefix says it is the other kind of token than its attribute.
fn kind_mismatch(attribute: &str, value: &str) -> Option<(&'static str, String)> {
    let looks_like_runner_token = value.starts_with(RUNNER_TOKEN_PREFIX);
    match (attribute, looks_like_runner_token) {
        (RUNNER_TOKEN | RUNNER_TOKEN_WO, false) => Some((
            "Unexpected Runner Token Format",
            format!(
                "{attribute} does not start with \"{RUNNER_TOKEN_PREFIX}\", the prefix of runner authentication tokens (GitLab 15.11+). If it is a registration token, use registration_token instead (deprecated); better, create the runner in GitLab and use its {RUNNER_TOKEN_PREFIX} token."
            ),
        )),
        (REGISTRATION_TOKEN, true) => Some((
            "Runner Token Given As Registration Token",
            format!(
                "registration_token holds a value starting with \"{RUNNER_TOKEN_PREFIX}\", which is a runner authentication token. Move it to runner_token (or runner_token_wo)."
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::secret_resource::test_support::{self, summaries};

    fn config(pairs: &[(&str, Value)]) -> Value {
        test_support::config::<super::super::Kind>(pairs)
    }

    #[test]
    fn exactly_one_source_is_required() {
        let none = check_config(&config(&[]));
        assert_eq!(
            summaries(&none),
            vec![("Missing Runner Token".into(), "runner_token".into(), true)]
        );
        let two = check_config(&config(&[
            (RUNNER_TOKEN, Value::from("glrt-a")),
            (REGISTRATION_TOKEN, Value::Unknown),
        ]));
        assert_eq!(
            summaries(&two),
            vec![(
                "Conflicting Token Attributes".into(),
                "registration_token".into(),
                true
            )]
        );
        let one = check_config(&config(&[
            (RUNNER_TOKEN_WO, Value::from("glrt-a")),
            (RUNNER_TOKEN_WO_VERSION, Value::from(1_i64)),
        ]));
        assert!(one.is_empty(), "{one}");
    }

    #[test]
    fn whitespace_is_an_error_that_does_not_show_the_value() {
        let d = check_config(&config(&[(RUNNER_TOKEN, Value::from("glrt-secret\n"))]));
        let diag = d.iter().next().unwrap();
        assert!(diag.is_error());
        assert_eq!(diag.summary, "Invalid Token");
        assert!(diag.detail.contains("line break"));
        assert!(!diag.detail.contains("glrt-secret"));
        let spaced = check_config(&config(&[(RUNNER_TOKEN_WO, Value::from("glrt- x"))]));
        assert!(spaced.iter().next().unwrap().detail.contains("whitespace"));
    }

    #[test]
    fn an_unusual_prefix_is_a_warning() {
        let d = check_config(&config(&[(RUNNER_TOKEN, Value::from("GR1348941abc"))]));
        assert_eq!(
            summaries(&d),
            vec![(
                "Unexpected Runner Token Format".into(),
                "runner_token".into(),
                false
            )]
        );
        let r = check_config(&config(&[(REGISTRATION_TOKEN, Value::from("glrt-abc"))]));
        assert_eq!(
            r.iter().next().unwrap().summary,
            "Runner Token Given As Registration Token"
        );
        assert!(
            check_config(&config(&[(
                REGISTRATION_TOKEN,
                Value::from("GR1348941abc")
            )]))
            .is_empty()
        );
    }

    #[test]
    fn version_without_write_only_token_is_an_error() {
        let d = check_config(&config(&[
            (RUNNER_TOKEN, Value::from("glrt-a")),
            (RUNNER_TOKEN_WO_VERSION, Value::from(2_i64)),
        ]));
        assert_eq!(
            summaries(&d),
            vec![(
                "Write-Only Version Without Token".into(),
                "runner_token_wo_version".into(),
                true
            )]
        );
    }

    #[test]
    fn both_chart_keys_are_always_written() {
        let runner = Token {
            source: Source::RunnerTokenWriteOnly,
            value: Some("glrt-x".into()),
        };
        let data = runner.secret_data().unwrap();
        assert_eq!(data[RUNNER_TOKEN_KEY], b"glrt-x");
        assert_eq!(data[REGISTRATION_TOKEN_KEY], b"");
        let registration = Token {
            source: Source::RegistrationToken,
            value: Some("GR1".into()),
        };
        let data = registration.secret_data().unwrap();
        assert_eq!(data[RUNNER_TOKEN_KEY], b"");
        assert_eq!(data[REGISTRATION_TOKEN_KEY], b"GR1");
        assert!(
            Token {
                source: Source::RunnerToken,
                value: None
            }
            .secret_data()
            .is_none()
        );
    }

    #[test]
    fn the_single_source_is_found() {
        let t = Token::from_config(&config(&[(RUNNER_TOKEN_WO, Value::Unknown)])).unwrap();
        assert_eq!(t.source, Source::RunnerTokenWriteOnly);
        assert!(t.value.is_none());
        assert!(Token::from_config(&config(&[])).is_none());
    }
}
