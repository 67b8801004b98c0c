//! The credential attributes: which backend needs which, the chart's Secret keys they become,
//! and the plan-time checks of their values. Values are never quoted in a diagnostic.

use std::collections::BTreeMap;

use tfplugin::{AttributePath, Diagnostics, Value};

pub const BACKEND: &str = "backend";
pub const CREDENTIALS_WO_VERSION: &str = "credentials_wo_version";

pub const S3_ACCESS_KEY_WO: &str = "s3_access_key_wo";
pub const S3_SECRET_KEY_WO: &str = "s3_secret_key_wo";
pub const GCS_CREDENTIALS_JSON_WO: &str = "gcs_credentials_json_wo";
pub const GCS_ACCESS_ID_WO: &str = "gcs_access_id_wo";
pub const GCS_PRIVATE_KEY_WO: &str = "gcs_private_key_wo";
pub const AZURE_ACCOUNT_NAME_WO: &str = "azure_account_name_wo";
pub const AZURE_ACCOUNT_KEY_WO: &str = "azure_account_key_wo";

/// Every write-only credential attribute and the chart 0.86.0 Secret key it is written to
/// (the keys the chart's templates read from `runners.cache.secretName`).
pub const CREDENTIALS: [Credential; 7] = [
    Credential::new(S3_ACCESS_KEY_WO, Backend::S3, "accesskey", Shape::Token),
    Credential::new(S3_SECRET_KEY_WO, Backend::S3, "secretkey", Shape::Token),
    Credential::new(
        GCS_CREDENTIALS_JSON_WO,
        Backend::Gcs,
        "gcs-application-credentials-file",
        Shape::ServiceAccountJson,
    ),
    Credential::new(
        GCS_ACCESS_ID_WO,
        Backend::Gcs,
        "gcs-access-id",
        Shape::Token,
    ),
    Credential::new(
        GCS_PRIVATE_KEY_WO,
        Backend::Gcs,
        "gcs-private-key",
        Shape::Text,
    ),
    Credential::new(
        AZURE_ACCOUNT_NAME_WO,
        Backend::Azure,
        "azure-account-name",
        Shape::Token,
    ),
    Credential::new(
        AZURE_ACCOUNT_KEY_WO,
        Backend::Azure,
        "azure-account-key",
        Shape::Token,
    ),
];

/// The cache backend, as the chart's `runners.cache` type names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    S3,
    Gcs,
    Azure,
}

impl Backend {
    pub const NAMES: [&'static str; 3] = ["s3", "gcs", "azure"];

    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "s3" => Some(Backend::S3),
            "gcs" => Some(Backend::Gcs),
            "azure" => Some(Backend::Azure),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::S3 => "s3",
            Backend::Gcs => "gcs",
            Backend::Azure => "azure",
        }
    }

    /// The backend whose chart keys `data` holds (after an import), if exactly one.
    pub fn of_keys<'a>(keys: impl IntoIterator<Item = &'a String>) -> Option<Backend> {
        let mut found: Option<Backend> = None;
        for key in keys {
            let Some(c) = CREDENTIALS.iter().find(|c| c.key == key) else {
                continue;
            };
            match found {
                Some(b) if b != c.backend => return None,
                _ => found = Some(c.backend),
            }
        }
        found
    }
}

/// What a value must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One line without whitespace (access keys, account names and keys).
    Token,
    /// Any non-empty text (a PEM private key spans lines).
    Text,
    /// A Google service account key file: a JSON object with `client_email` and `private_key`.
    ServiceAccountJson,
}

/// One credential attribute.
#[derive(Clone, Copy, Debug)]
pub struct Credential {
    pub attribute: &'static str,
    pub backend: Backend,
    /// The Secret key the chart reads.
    pub key: &'static str,
    pub shape: Shape,
}

impl Credential {
    const fn new(
        attribute: &'static str,
        backend: Backend,
        key: &'static str,
        shape: Shape,
    ) -> Credential {
        Credential {
            attribute,
            backend,
            key,
            shape,
        }
    }
}

fn is_set(config: &Value, name: &str) -> bool {
    config.attr(name).is_some_and(|v| !v.is_null())
}

/// The Secret data `config` describes: each set credential of the backend under its chart key.
/// `None` while the backend or a set credential is unknown (or the backend is not valid).
/// Holds secrets: callers never log it.
pub fn secret_data(config: &Value) -> Option<BTreeMap<String, Vec<u8>>> {
    let backend = Backend::parse(config.attr(BACKEND)?.as_str()?)?;
    let mut data = BTreeMap::new();
    for c in CREDENTIALS.iter().filter(|c| c.backend == backend) {
        match config.attr(c.attribute) {
            None | Some(Value::Null) => {}
            Some(v) => {
                data.insert(c.key.to_owned(), v.as_str()?.as_bytes().to_vec());
            }
        }
    }
    Some(data)
}

/// Plan-time checks across the credential attributes of `config`: the backend's required
/// credentials are set, no other backend's are, each known value has its shape, the version
/// only with credentials, and no credential value is copied into a label or annotation (which
/// are stored in state).
pub fn check_config(config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    let backend = config
        .attr(BACKEND)
        .and_then(Value::as_str)
        .and_then(Backend::parse);
    if let Some(backend) = backend {
        check_backend(config, backend, &mut diagnostics);
    }
    let any_set = CREDENTIALS.iter().any(|c| is_set(config, c.attribute));
    if is_set(config, CREDENTIALS_WO_VERSION) && !any_set {
        diagnostics.attribute_error(
            AttributePath::new(CREDENTIALS_WO_VERSION),
            "Write-Only Version Without Credentials",
            "credentials_wo_version records a rotation of the write-only credentials; set the backend's credentials too.",
        );
    }
    for c in &CREDENTIALS {
        if let Some(value) = config.attr(c.attribute).and_then(Value::as_str) {
            check_value(c, value, &mut diagnostics);
        }
    }
    check_not_copied(config, &mut diagnostics);
    diagnostics
}

fn check_backend(config: &Value, backend: Backend, diagnostics: &mut Diagnostics) {
    for c in CREDENTIALS.iter().filter(|c| c.backend != backend) {
        if is_set(config, c.attribute) {
            diagnostics.attribute_error(
                AttributePath::new(c.attribute),
                "Credential Of Another Backend",
                format!(
                    "{} is a {} credential, but backend is {:?}. Remove it, or change backend.",
                    c.attribute,
                    c.backend.name(),
                    backend.name()
                ),
            );
        }
    }
    let missing = |name: &str, diagnostics: &mut Diagnostics, detail: String| {
        if !is_set(config, name) {
            diagnostics.attribute_error(
                AttributePath::new(name),
                "Missing Cache Credential",
                detail,
            );
        }
    };
    match backend {
        Backend::S3 => {
            for name in [S3_ACCESS_KEY_WO, S3_SECRET_KEY_WO] {
                missing(
                    name,
                    diagnostics,
                    format!(
                        "backend \"s3\" needs {S3_ACCESS_KEY_WO} and {S3_SECRET_KEY_WO} (the chart's keys accesskey and secretkey); {name} is not set. For IAM roles without keys, leave the release's cache secret_name unset instead of creating this Secret."
                    ),
                );
            }
        }
        Backend::Azure => {
            for name in [AZURE_ACCOUNT_NAME_WO, AZURE_ACCOUNT_KEY_WO] {
                missing(
                    name,
                    diagnostics,
                    format!(
                        "backend \"azure\" needs {AZURE_ACCOUNT_NAME_WO} and {AZURE_ACCOUNT_KEY_WO} (the chart's keys azure-account-name and azure-account-key); {name} is not set."
                    ),
                );
            }
        }
        Backend::Gcs => check_gcs(config, diagnostics),
    }
}

/// GCS takes either a service account JSON or an access id with its private key.
fn check_gcs(config: &Value, diagnostics: &mut Diagnostics) {
    let json = is_set(config, GCS_CREDENTIALS_JSON_WO);
    let id = is_set(config, GCS_ACCESS_ID_WO);
    let key = is_set(config, GCS_PRIVATE_KEY_WO);
    match (json, id, key) {
        (true, false, false) | (false, true, true) => {}
        (true, _, _) => {
            for name in [GCS_ACCESS_ID_WO, GCS_PRIVATE_KEY_WO] {
                if is_set(config, name) {
                    diagnostics.attribute_error(
                        AttributePath::new(name),
                        "Conflicting GCS Credentials",
                        format!("Set either {GCS_CREDENTIALS_JSON_WO} (a service account key file) or {GCS_ACCESS_ID_WO} with {GCS_PRIVATE_KEY_WO}, not both: remove {name}."),
                    );
                }
            }
        }
        (false, false, false) => diagnostics.attribute_error(
            AttributePath::new(GCS_CREDENTIALS_JSON_WO),
            "Missing Cache Credential",
            format!("backend \"gcs\" needs {GCS_CREDENTIALS_JSON_WO} (a service account key file, the chart's key gcs-application-credentials-file) or {GCS_ACCESS_ID_WO} with {GCS_PRIVATE_KEY_WO} (keys gcs-access-id and gcs-private-key)."),
        ),
        (false, true, false) | (false, false, true) => {
            let absent = if id { GCS_PRIVATE_KEY_WO } else { GCS_ACCESS_ID_WO };
            diagnostics.attribute_error(
                AttributePath::new(absent),
                "Missing Cache Credential",
                format!("{GCS_ACCESS_ID_WO} and {GCS_PRIVATE_KEY_WO} go together (the chart's keys gcs-access-id and gcs-private-key); {absent} is not set."),
            );
        }
    }
}

fn check_value(credential: &Credential, value: &str, diagnostics: &mut Diagnostics) {
    let name = credential.attribute;
    let path = AttributePath::new(name);
    if value.trim().is_empty() {
        diagnostics.attribute_error(path, "Empty Cache Credential", format!("{name} is empty."));
        return;
    }
    match credential.shape {
        Shape::Token => {
            if value.chars().any(char::is_whitespace) {
                let what = if value.contains(['\n', '\r']) {
                    "a line break"
                } else {
                    "whitespace"
                };
                diagnostics.attribute_error(
                    path,
                    "Invalid Cache Credential",
                    format!("{name} contains {what} (often a trailing newline from a file); the storage service would reject it. Remove it, e.g. with trimspace(). The value is not shown because it is secret."),
                );
            }
        }
        Shape::Text => {}
        Shape::ServiceAccountJson => {
            if let Err(problem) = check_service_account(value) {
                diagnostics.attribute_error(
                    path,
                    "Invalid Service Account Key",
                    format!("{name} must be a Google service account key file (JSON with client_email and private_key): {problem}. The value is not shown because it is secret."),
                );
            }
        }
    }
}

/// Why `text` is not a service account key file; the reason never quotes the text (serde's
/// errors name only a line and column).
fn check_service_account(text: &str) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not JSON ({})", position(&e)))?;
    let object = json
        .as_object()
        .ok_or_else(|| "it is JSON but not an object".to_owned())?;
    let missing: Vec<&str> = ["client_email", "private_key"]
        .into_iter()
        .filter(|field| {
            object
                .get(*field)
                .and_then(serde_json::Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("it has no {}", missing.join(" and no ")))
    }
}

fn position(error: &serde_json::Error) -> String {
    format!("line {}, column {}", error.line(), error.column())
}

/// A label or annotation (stored in state and plan) must not hold a credential the write-only
/// attributes carry.
fn check_not_copied(config: &Value, diagnostics: &mut Diagnostics) {
    let secrets: Vec<&str> = CREDENTIALS
        .iter()
        .filter_map(|c| config.attr(c.attribute).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| s.len() >= MIN_COMPARED_LENGTH)
        .collect();
    if secrets.is_empty() {
        return;
    }
    for map in ["labels", "annotations"] {
        let Some(entries) = config.attr(map).and_then(Value::as_entries) else {
            continue;
        };
        for (key, value) in entries {
            let Some(value) = value.as_str() else {
                continue;
            };
            if secrets.iter().any(|s| value.contains(s)) {
                diagnostics.attribute_error(
                    AttributePath::new(map).key(key),
                    "Credential In A Stored Attribute",
                    format!("{map}[{key:?}] holds one of the cache credentials; {map} are stored in plan and state. Remove it: the credentials belong only in the write-only attributes."),
                );
            }
        }
    }
}

/// Shorter values (an account name such as "ci") would match ordinary labels by chance.
const MIN_COMPARED_LENGTH: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::secret_resource::test_support::{self, summaries};

    fn config(pairs: &[(&str, Value)]) -> Value {
        test_support::config::<super::super::Kind>(pairs)
    }

    const SA_JSON: &str = r#"{"type":"service_account","client_email":"ci@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"}"#;

    #[test]
    fn the_chart_key_names_are_the_chart_0_86_0_ones() {
        let keys: Vec<(&str, &str)> = CREDENTIALS
            .iter()
            .map(|c| (c.backend.name(), c.key))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("s3", "accesskey"),
                ("s3", "secretkey"),
                ("gcs", "gcs-application-credentials-file"),
                ("gcs", "gcs-access-id"),
                ("gcs", "gcs-private-key"),
                ("azure", "azure-account-name"),
                ("azure", "azure-account-key"),
            ]
        );
    }

    #[test]
    fn each_backend_requires_its_keys_at_their_attribute() {
        let s3 = check_config(&config(&[
            (BACKEND, Value::from("s3")),
            (S3_ACCESS_KEY_WO, Value::from("AKIAEXAMPLEKEY")),
        ]));
        assert_eq!(
            summaries(&s3),
            vec![(
                "Missing Cache Credential".into(),
                S3_SECRET_KEY_WO.into(),
                true
            )]
        );
        let azure = check_config(&config(&[(BACKEND, Value::from("azure"))]));
        assert_eq!(azure.iter().count(), 2);
        let gcs = check_config(&config(&[(BACKEND, Value::from("gcs"))]));
        assert_eq!(
            summaries(&gcs),
            vec![(
                "Missing Cache Credential".into(),
                GCS_CREDENTIALS_JSON_WO.into(),
                true
            )]
        );
        let half = check_config(&config(&[
            (BACKEND, Value::from("gcs")),
            (GCS_ACCESS_ID_WO, Value::from("ci@p.iam")),
        ]));
        assert_eq!(
            summaries(&half),
            vec![(
                "Missing Cache Credential".into(),
                GCS_PRIVATE_KEY_WO.into(),
                true
            )]
        );
        let both = check_config(&config(&[
            (BACKEND, Value::from("gcs")),
            (GCS_CREDENTIALS_JSON_WO, Value::from(SA_JSON)),
            (GCS_PRIVATE_KEY_WO, Value::from("k")),
        ]));
        assert_eq!(
            summaries(&both),
            vec![(
                "Conflicting GCS Credentials".into(),
                GCS_PRIVATE_KEY_WO.into(),
                true
            )]
        );
        let other = check_config(&config(&[
            (BACKEND, Value::from("azure")),
            (AZURE_ACCOUNT_NAME_WO, Value::from("acct")),
            (AZURE_ACCOUNT_KEY_WO, Value::from("key")),
            (S3_SECRET_KEY_WO, Value::from("key")),
        ]));
        assert_eq!(
            summaries(&other),
            vec![(
                "Credential Of Another Backend".into(),
                S3_SECRET_KEY_WO.into(),
                true
            )]
        );
    }

    #[test]
    fn unknown_values_satisfy_the_requirements() {
        let d = check_config(&config(&[
            (BACKEND, Value::from("s3")),
            (S3_ACCESS_KEY_WO, Value::Unknown),
            (S3_SECRET_KEY_WO, Value::Unknown),
            (CREDENTIALS_WO_VERSION, Value::from(1_i64)),
        ]));
        assert!(d.is_empty(), "{d}");
        assert!(
            secret_data(&config(&[
                (BACKEND, Value::from("s3")),
                (S3_ACCESS_KEY_WO, Value::Unknown),
            ]))
            .is_none()
        );
    }

    #[test]
    fn a_service_account_json_needs_client_email_and_private_key() {
        let ok = check_config(&config(&[
            (BACKEND, Value::from("gcs")),
            (GCS_CREDENTIALS_JSON_WO, Value::from(SA_JSON)),
        ]));
        assert!(ok.is_empty(), "{ok}");
        let secret_part = "SECRET-PART-OF-THE-KEY";
        let no_key = format!(r#"{{"client_email":"ci@p.iam","private_key_id":"{secret_part}"}}"#);
        let d = check_config(&config(&[
            (BACKEND, Value::from("gcs")),
            (GCS_CREDENTIALS_JSON_WO, Value::from(no_key.as_str())),
        ]));
        assert_eq!(
            summaries(&d),
            vec![(
                "Invalid Service Account Key".into(),
                GCS_CREDENTIALS_JSON_WO.into(),
                true
            )]
        );
        let detail = &d.iter().next().expect("one").detail;
        assert!(detail.contains("no private_key"), "{detail}");
        assert!(!detail.contains(secret_part));
        let not_json = check_config(&config(&[
            (BACKEND, Value::from("gcs")),
            (
                GCS_CREDENTIALS_JSON_WO,
                Value::from("{\"private_key\": SECRET"),
            ),
        ]));
        let detail = &not_json.iter().next().expect("one").detail;
        assert!(detail.contains("not JSON"), "{detail}");
        assert!(!detail.contains("SECRET"), "{detail}");
    }

    #[test]
    fn whitespace_in_a_key_is_an_error_that_does_not_show_it() {
        let d = check_config(&config(&[
            (BACKEND, Value::from("s3")),
            (S3_ACCESS_KEY_WO, Value::from("AKIAEXAMPLE\n")),
            (S3_SECRET_KEY_WO, Value::from("")),
        ]));
        assert_eq!(
            summaries(&d),
            vec![
                (
                    "Invalid Cache Credential".into(),
                    S3_ACCESS_KEY_WO.into(),
                    true
                ),
                (
                    "Empty Cache Credential".into(),
                    S3_SECRET_KEY_WO.into(),
                    true
                ),
            ]
        );
        assert!(!d.iter().any(|d| d.detail.contains("AKIAEXAMPLE")));
    }

    #[test]
    fn a_credential_copied_into_an_annotation_is_an_error() {
        let d = check_config(&config(&[
            (BACKEND, Value::from("s3")),
            (S3_ACCESS_KEY_WO, Value::from("AKIAEXAMPLEKEY")),
            (S3_SECRET_KEY_WO, Value::from("wJalrXUtnFEMI/K7MDENG")),
            (
                "annotations",
                Value::Map([("note".to_owned(), Value::from("key wJalrXUtnFEMI/K7MDENG"))].into()),
            ),
        ]));
        assert_eq!(
            summaries(&d),
            vec![(
                "Credential In A Stored Attribute".into(),
                "annotations[\"note\"]".into(),
                true
            )]
        );
        assert!(!d.iter().any(|d| d.detail.contains("wJalr")));
    }

    #[test]
    fn the_version_needs_credentials() {
        let d = check_config(&config(&[
            (BACKEND, Value::Unknown),
            (CREDENTIALS_WO_VERSION, Value::from(1_i64)),
        ]));
        assert_eq!(
            summaries(&d),
            vec![(
                "Write-Only Version Without Credentials".into(),
                CREDENTIALS_WO_VERSION.into(),
                true
            )]
        );
    }

    #[test]
    fn the_data_holds_the_backend_keys_only() {
        let data = secret_data(&config(&[
            (BACKEND, Value::from("gcs")),
            (GCS_ACCESS_ID_WO, Value::from("id")),
            (GCS_PRIVATE_KEY_WO, Value::from("pk")),
        ]))
        .expect("known");
        assert_eq!(
            data.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["gcs-access-id", "gcs-private-key"]
        );
        assert_eq!(Backend::of_keys(data.keys()), Some(Backend::Gcs));
    }
}
