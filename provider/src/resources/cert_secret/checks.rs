//! Plan-time checks that need only the configuration.

use tfplugin::{AttributePath, Diagnostic, Diagnostics, Value};

use super::host::{self, file_name};
use super::{
    CERTIFICATE_PEM, DEFAULT_EXPIRY_WARNING_DAYS, EXPIRY_WARNING_DAYS, EXTRA_FILES,
    GITLAB_HOSTNAME, GITLAB_URL, MAX_EXPIRY_WARNING_DAYS, SOURCE_SECRET,
};
use crate::certificates::parse_chain;

/// `expiry_warning_days` as planned: the default when unset or unknown, an error at the
/// attribute when out of 0..=[`MAX_EXPIRY_WARNING_DAYS`]. The schema's validator says the same
/// at validate time, but a value that was unknown then (or a client that skips validation)
/// reaches the plan unchecked.
pub fn warn_days(config: &Value) -> Result<i64, Diagnostic> {
    let Some(number) = config.attr(EXPIRY_WARNING_DAYS).and_then(Value::as_number) else {
        return Ok(DEFAULT_EXPIRY_WARNING_DAYS);
    };
    match number.as_i64() {
        Some(days) if (0..=MAX_EXPIRY_WARNING_DAYS).contains(&days) => Ok(days),
        _ => Err(Diagnostic::error(
            "Invalid Attribute Value",
            format!(
                "{EXPIRY_WARNING_DAYS} must be a whole number between 0 and {MAX_EXPIRY_WARNING_DAYS}, got {number}."
            ),
        )
        .at(AttributePath::new(EXPIRY_WARNING_DAYS))),
    }
}

/// The host from whichever of `gitlab_url` / `gitlab_hostname` is set (`Ok(None)` when unknown).
pub fn host_of(config: &Value) -> Result<Option<String>, Diagnostic> {
    let known = |name| config.attr(name).and_then(Value::as_str);
    if let Some(url) = known(GITLAB_URL) {
        return host::host_from_url(url).map(Some).map_err(|e| {
            Diagnostic::error("Invalid GitLab URL", format!("gitlab_url {e}."))
                .at(AttributePath::new(GITLAB_URL))
        });
    }
    if let Some(h) = known(GITLAB_HOSTNAME) {
        return host::checked_hostname(h).map(Some).map_err(|e| {
            Diagnostic::error("Invalid GitLab Host Name", format!("gitlab_hostname {e}."))
                .at(AttributePath::new(GITLAB_HOSTNAME))
        });
    }
    Ok(None)
}

/// Checks that need only the configuration: one host attribute, one certificate source, a
/// parseable `certificate_pem`, extra files not clashing with the certificate's file.
pub fn check_config(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let is_set = |name| config.attr(name).is_some_and(|v| !v.is_null());
    exactly_one(
        &mut d,
        is_set(GITLAB_URL),
        is_set(GITLAB_HOSTNAME),
        GITLAB_URL,
        GITLAB_HOSTNAME,
        "Missing GitLab Host",
        "the GitLab host, so the provider can name the file `<host>.crt` the runner reads",
    );
    exactly_one(
        &mut d,
        is_set(CERTIFICATE_PEM),
        is_set(SOURCE_SECRET),
        CERTIFICATE_PEM,
        SOURCE_SECRET,
        "Missing Certificate",
        "the certificate",
    );
    let host = match host_of(config) {
        Ok(h) => h,
        Err(e) => {
            d.push(e);
            None
        }
    };
    if let Some(pem) = config.attr(CERTIFICATE_PEM).and_then(Value::as_str)
        && let Err(e) = parse_chain(pem.as_bytes())
    {
        d.attribute_error(
            AttributePath::new(CERTIFICATE_PEM),
            "Invalid Certificate",
            format!("certificate_pem {e}."),
        );
    }
    if let (Some(host), Some(files)) = (host, config.attr(EXTRA_FILES).and_then(Value::as_entries))
    {
        let name = file_name(&host);
        if files.contains_key(&name) {
            d.attribute_error(
                AttributePath::new(EXTRA_FILES).key(&name),
                "File Name Clash",
                format!("{name:?} is the file the certificate goes to (derived from the GitLab host); remove it from extra_files."),
            );
        }
    }
    d
}

fn exactly_one(
    d: &mut Diagnostics,
    a_set: bool,
    b_set: bool,
    a: &str,
    b: &str,
    summary: &str,
    what: &str,
) {
    match (a_set, b_set) {
        (false, false) => d.attribute_error(
            AttributePath::new(a),
            summary,
            format!("Set {a} or {b} to give {what}."),
        ),
        (true, true) => d.attribute_error(
            AttributePath::new(b),
            "Conflicting Attributes",
            format!("Set only one of {a} and {b}; both are set. Remove {b}."),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificates::tests::certificate;
    use crate::resources::secret_resource::test_support;
    use std::collections::BTreeMap;

    fn config(pairs: &[(&str, Value)]) -> Value {
        test_support::config::<super::super::Kind>(pairs)
    }

    fn paths(d: &Diagnostics) -> Vec<(String, String)> {
        test_support::summaries(d)
            .into_iter()
            .map(|(summary, path, _)| (summary, path))
            .collect()
    }

    #[test]
    fn host_and_certificate_are_each_required_once() {
        let d = check_config(&config(&[]));
        assert_eq!(
            paths(&d),
            vec![
                ("Missing GitLab Host".into(), "gitlab_url".into()),
                ("Missing Certificate".into(), "certificate_pem".into())
            ]
        );
        let pem = certificate(&["gitlab.example.com"], 90, false);
        let both = check_config(&config(&[
            (GITLAB_URL, Value::from("https://gitlab.example.com")),
            (GITLAB_HOSTNAME, Value::from("gitlab.example.com")),
            (CERTIFICATE_PEM, Value::from(pem.as_str())),
        ]));
        assert_eq!(
            paths(&both),
            vec![("Conflicting Attributes".into(), "gitlab_hostname".into())]
        );
    }

    #[test]
    fn a_bad_certificate_and_a_bad_url_point_at_their_attributes() {
        let d = check_config(&config(&[
            (GITLAB_URL, Value::from("gitlab.example.com")),
            (
                CERTIFICATE_PEM,
                Value::from("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            ),
        ]));
        assert_eq!(
            paths(&d),
            vec![
                ("Invalid GitLab URL".into(), "gitlab_url".into()),
                ("Invalid Certificate".into(), "certificate_pem".into())
            ]
        );
        assert!(d.iter().nth(1).unwrap().detail.contains("PEM block 1"));
    }

    #[test]
    fn extra_files_may_not_replace_the_certificate_file() {
        let pem = certificate(&["gitlab.example.com"], 90, false);
        let d = check_config(&config(&[
            (GITLAB_HOSTNAME, Value::from("gitlab.example.com")),
            (CERTIFICATE_PEM, Value::from(pem.as_str())),
            (
                EXTRA_FILES,
                Value::Map(BTreeMap::from([(
                    "gitlab.example.com.crt".to_owned(),
                    Value::from("x"),
                )])),
            ),
        ]));
        assert_eq!(
            paths(&d),
            vec![(
                "File Name Clash".into(),
                "extra_files[\"gitlab.example.com.crt\"]".into()
            )]
        );
    }

    #[test]
    fn expiry_warning_days_out_of_range_is_a_plan_error_at_the_attribute() {
        let days = |v: Value| warn_days(&config(&[(EXPIRY_WARNING_DAYS, v)]));
        assert_eq!(days(Value::Null), Ok(DEFAULT_EXPIRY_WARNING_DAYS));
        assert_eq!(days(Value::Unknown), Ok(DEFAULT_EXPIRY_WARNING_DAYS));
        assert_eq!(days(Value::from(0_i64)), Ok(0));
        assert_eq!(days(Value::from(3650_i64)), Ok(3650));
        for bad in [
            Value::from(3651_i64),
            Value::from(-1_i64),
            Value::from(i64::MAX),
            Value::from(1.5),
            Value::Number(tfplugin::Number::Decimal("1e400".into())),
        ] {
            let error = days(bad.clone()).expect_err("out of range");
            assert_eq!(
                error.attribute.as_ref().map(ToString::to_string).as_deref(),
                Some(EXPIRY_WARNING_DAYS),
                "{bad:?}"
            );
            assert!(
                error.detail.contains("between 0 and 3650"),
                "{}",
                error.detail
            );
        }
    }
}
