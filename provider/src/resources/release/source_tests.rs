//! Chart-source settings: what each source accepts, and where a problem is reported.

use helm_driver::{ChartSource, ChartTransport};
use tfplugin::{Diagnostics, Severity};

use super::{chart_source, chart_transport, check_chart_source, credentials};
use crate::certificates::tests::certificate;
use crate::resources::release::model::ReleaseModel;

const OCI: &str = "oci://registry.example:5000/charts/gitlab-runner";

fn model(chart: &str) -> ReleaseModel {
    ReleaseModel {
        name: "gitlab-runner".into(),
        namespace: "ci".into(),
        chart: Some(chart.into()),
        ..ReleaseModel::default()
    }
}

fn findings(model: &ReleaseModel) -> Vec<(Severity, String, String)> {
    let mut diagnostics = Diagnostics::new();
    check_chart_source(model, &mut diagnostics);
    diagnostics
        .iter()
        .map(|d| {
            (
                d.severity,
                d.summary.clone(),
                d.attribute
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn sources_are_told_apart_by_the_chart_attribute() {
    assert_eq!(
        chart_source(&model(OCI)),
        ChartSource::Oci {
            reference: OCI.into()
        }
    );
    assert!(matches!(
        chart_source(&model("./charts/gitlab-runner")),
        ChartSource::Local { .. }
    ));
    assert_eq!(
        chart_source(&model("gitlab-runner")),
        ChartSource::Repository {
            url: "https://charts.gitlab.io".into(),
            chart: "gitlab-runner".into()
        }
    );
}

#[test]
fn an_oci_repository_with_a_chart_name_is_an_oci_reference() {
    let helm_release_style = ReleaseModel {
        repository: Some("oci://registry.example:5000/charts/".into()),
        ..model("gitlab-runner")
    };
    assert_eq!(
        chart_source(&helm_release_style),
        ChartSource::Oci {
            reference: OCI.into()
        }
    );
    let plain = ReleaseModel {
        repository_plain_http: Some(true),
        ..helm_release_style
    };
    assert_eq!(findings(&plain), vec![]);
}

#[test]
fn a_private_registry_with_its_ca_is_accepted_and_passed_on() {
    let pem = certificate(&[], 365, true);
    let settings = ReleaseModel {
        repository_ca_certificate: Some(pem.clone()),
        repository_username: Some("robot".into()),
        repository_password: Some("pw".into()),
        ..model(OCI)
    };
    assert_eq!(findings(&settings), vec![]);
    assert_eq!(
        chart_transport(&settings),
        ChartTransport {
            ca_pem: Some(pem),
            insecure_skip_tls_verify: false,
            plain_http: false,
        }
    );
    let plain = ReleaseModel {
        repository_plain_http: Some(true),
        ..model(OCI)
    };
    assert_eq!(findings(&plain), vec![]);
    assert!(chart_transport(&plain).plain_http);
}

#[test]
fn each_misplaced_setting_is_an_error_at_its_attribute() {
    let error = |summary: &str, path: &str| (Severity::Error, summary.to_owned(), path.to_owned());
    let cases = [
        (
            ReleaseModel {
                repository_ca_certificate: Some("not a certificate".into()),
                ..model(OCI)
            },
            vec![error(
                "Invalid Repository CA Certificate",
                "repository_ca_certificate",
            )],
        ),
        (
            ReleaseModel {
                repository_ca_certificate: Some(
                    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
                ),
                ..model(OCI)
            },
            vec![error(
                "Invalid Repository CA Certificate",
                "repository_ca_certificate",
            )],
        ),
        (
            ReleaseModel {
                repository_plain_http: Some(true),
                ..model("gitlab-runner")
            },
            vec![error(
                "Plain HTTP Needs An OCI Chart",
                "repository_plain_http",
            )],
        ),
        (
            ReleaseModel {
                repository_plain_http: Some(true),
                repository_ca_certificate: Some(certificate(&[], 365, true)),
                ..model(OCI)
            },
            vec![error(
                "TLS Setting With Plain HTTP",
                "repository_ca_certificate",
            )],
        ),
        (
            ReleaseModel {
                repository_username: Some("robot".into()),
                ..model(OCI)
            },
            vec![error(
                "Incomplete Repository Credentials",
                "repository_password",
            )],
        ),
        (
            ReleaseModel {
                repository_password: Some("pw".into()),
                ..model(OCI)
            },
            vec![error(
                "Incomplete Repository Credentials",
                "repository_username",
            )],
        ),
        (
            ReleaseModel {
                repository_password_wo: Some("pw".into()),
                ..model(OCI)
            },
            vec![error(
                "Incomplete Repository Credentials",
                "repository_username",
            )],
        ),
        (
            ReleaseModel {
                repository_username: Some("robot".into()),
                repository_password: Some("pw".into()),
                repository_password_wo: Some("pw".into()),
                ..model(OCI)
            },
            vec![error(
                "Conflicting Repository Passwords",
                "repository_password_wo",
            )],
        ),
        (
            ReleaseModel {
                repository_plain_http: Some(true),
                repository_ca_certificate: Some(certificate(&[], 365, true)),
                ..model("/charts/gitlab-runner")
            },
            vec![
                error(
                    "Repository Setting On A Local Chart",
                    "repository_ca_certificate",
                ),
                error(
                    "Repository Setting On A Local Chart",
                    "repository_plain_http",
                ),
            ],
        ),
    ];
    for (settings, expected) in cases {
        assert_eq!(findings(&settings), expected, "{settings:?}");
    }
}

#[test]
fn an_expired_ca_in_the_bundle_is_a_warning() {
    let bundle = format!(
        "{}{}",
        certificate(&[], 365, true),
        certificate(&[], -3, true)
    );
    let settings = ReleaseModel {
        repository_ca_certificate: Some(bundle),
        ..model(OCI)
    };
    let found = findings(&settings);
    assert_eq!(
        found,
        vec![(
            Severity::Warning,
            "Repository CA Certificate Expired".to_owned(),
            "repository_ca_certificate".to_owned()
        )]
    );
    let mut diagnostics = Diagnostics::new();
    check_chart_source(&settings, &mut diagnostics);
    let detail = &diagnostics.iter().next().unwrap().detail;
    assert!(detail.contains("certificate 2 of 2"), "{detail}");
}

#[test]
fn skipping_tls_verification_is_allowed_with_a_warning() {
    let settings = ReleaseModel {
        repository_insecure_skip_tls_verify: Some(true),
        ..model(OCI)
    };
    assert_eq!(
        findings(&settings),
        vec![(
            Severity::Warning,
            "Chart Download Not Verified".to_owned(),
            "repository_insecure_skip_tls_verify".to_owned()
        )]
    );
}

#[test]
fn a_password_never_reaches_a_diagnostic() {
    let settings = ReleaseModel {
        repository_password: Some("s3cr3t-registry-pw".into()),
        ..model("/charts/gitlab-runner")
    };
    let mut diagnostics = Diagnostics::new();
    check_chart_source(&settings, &mut diagnostics);
    assert!(!diagnostics.is_empty());
    for diagnostic in diagnostics.iter() {
        assert!(!format!("{diagnostic:?}").contains("s3cr3t-registry-pw"));
    }
}

#[test]
fn credentials_take_the_write_only_password_from_the_configuration() {
    let configuration = ReleaseModel {
        repository_username: Some("robot".into()),
        repository_password_wo: Some("from-config".into()),
        ..model(OCI)
    };
    let found = credentials(&configuration).expect("credentials");
    assert_eq!(
        (found.username.as_str(), found.password.as_str()),
        ("robot", "from-config")
    );
    let state_like = ReleaseModel {
        repository_password_wo: None,
        ..configuration
    };
    assert!(credentials(&state_like).is_none());
}
