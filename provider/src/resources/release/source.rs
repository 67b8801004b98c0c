//! Where the chart comes from (a repository chart name, an `oci://` reference or a local path)
//! and how helm reaches it: repository credentials, a private CA, skipped TLS verification or
//! plain HTTP. Settings that cannot apply to the chart source are plan-time errors at their
//! attribute rather than flags helm would silently ignore.

use std::path::PathBuf;

use helm_driver::{ChartSource, ChartTransport, RepositoryCredentials};
use tfplugin::{AttributePath, Diagnostic, Diagnostics};

use super::model::ReleaseModel;
use super::schema::{DEFAULT_CHART, DEFAULT_REPOSITORY};
use crate::certificates::ca_bundle::CaBundle;

/// Where the chart comes from: an `oci://` reference (in `chart`, or `helm_release`-style as an
/// `oci://` `repository` plus a chart name), a local path, or a repository chart name.
pub fn chart_source(model: &ReleaseModel) -> ChartSource {
    let chart = model
        .chart
        .clone()
        .unwrap_or_else(|| DEFAULT_CHART.to_owned());
    if chart.starts_with("oci://") {
        ChartSource::Oci { reference: chart }
    } else if chart.starts_with('/')
        || chart.starts_with("./")
        || chart.starts_with("../")
        || chart.ends_with(".tgz")
        || chart.ends_with(".tar.gz")
    {
        ChartSource::Local {
            path: PathBuf::from(chart),
        }
    } else if let Some(registry) = model
        .repository
        .as_deref()
        .filter(|url| url.starts_with("oci://"))
    {
        // The `helm_release` spelling: `repository = "oci://host/charts"`, `chart = "name"`.
        ChartSource::Oci {
            reference: format!("{}/{chart}", registry.trim_end_matches('/')),
        }
    } else {
        ChartSource::Repository {
            url: model
                .repository
                .clone()
                .unwrap_or_else(|| DEFAULT_REPOSITORY.to_owned()),
            chart,
        }
    }
}

/// How helm reaches the chart's repository or registry.
pub fn chart_transport(model: &ReleaseModel) -> ChartTransport {
    ChartTransport {
        ca_pem: model.repository_ca_certificate.clone(),
        insecure_skip_tls_verify: model.repository_insecure_skip_tls_verify.unwrap_or(false),
        plain_http: model.repository_plain_http.unwrap_or(false),
    }
}

/// Reports chart-source settings that are invalid or cannot apply to the chart source.
pub fn check_chart_source(model: &ReleaseModel, diagnostics: &mut Diagnostics) {
    let source = chart_source(model);
    let plain_http = model.repository_plain_http == Some(true);
    let insecure = model.repository_insecure_skip_tls_verify == Some(true);
    let ca = model.repository_ca_certificate.as_deref();

    if let Some(pem) = ca {
        let bundle = CaBundle {
            attribute: "repository_ca_certificate",
            path: AttributePath::new("repository_ca_certificate"),
            subject: "Repository CA Certificate",
            consequence: "helm will not trust a registry certificate that needs it. Renew the CA bundle.",
        };
        diagnostics.extend(bundle.check(pem));
    }
    check_credentials(model, diagnostics);

    if let ChartSource::Local { path } = &source {
        let set = [
            ("repository_username", model.repository_username.is_some()),
            ("repository_password", model.repository_password.is_some()),
            (
                "repository_password_wo",
                model.repository_password_wo.is_some(),
            ),
            ("repository_ca_certificate", ca.is_some()),
            ("repository_insecure_skip_tls_verify", insecure),
            ("repository_plain_http", plain_http),
        ];
        for (name, _) in set.iter().filter(|(_, is_set)| *is_set) {
            diagnostics.push(
                Diagnostic::error(
                    "Repository Setting On A Local Chart",
                    format!(
                        "{name} has no effect: chart {:?} is read from disk, not downloaded. Remove it, or point chart at a repository chart name or an oci:// reference.",
                        path.display()
                    ),
                )
                .at(AttributePath::new(*name)),
            );
        }
        return;
    }
    if plain_http && !matches!(source, ChartSource::Oci { .. }) {
        diagnostics.push(
            Diagnostic::error(
                "Plain HTTP Needs An OCI Chart",
                "repository_plain_http only applies to oci:// charts. For a chart repository, write the scheme in its URL (http://…).",
            )
            .at(AttributePath::new("repository_plain_http")),
        );
    }
    if plain_http && (ca.is_some() || insecure) {
        let name = if ca.is_some() {
            "repository_ca_certificate"
        } else {
            "repository_insecure_skip_tls_verify"
        };
        diagnostics.push(
            Diagnostic::error(
                "TLS Setting With Plain HTTP",
                format!(
                    "{name} is a TLS setting, but repository_plain_http = true turns TLS off for the registry. Keep one of them."
                ),
            )
            .at(AttributePath::new(name)),
        );
    }
    if insecure && !plain_http {
        diagnostics.push(
            Diagnostic::warning(
                "Chart Download Not Verified",
                "repository_insecure_skip_tls_verify = true accepts any certificate from the chart repository or registry, so the chart could be swapped in transit. Prefer repository_ca_certificate with your registry's CA.",
            )
            .at(AttributePath::new("repository_insecure_skip_tls_verify")),
        );
    }
}

/// The credentials helm logs in with, from the configuration (the only place that carries
/// `repository_password_wo`).
pub fn credentials(configuration: &ReleaseModel) -> Option<RepositoryCredentials> {
    let username = configuration.repository_username.clone()?;
    let password = configuration
        .repository_password
        .clone()
        .or_else(|| configuration.repository_password_wo.clone())?;
    Some(RepositoryCredentials { username, password })
}

/// Exactly one password with a username, and a username only with a password.
fn check_credentials(model: &ReleaseModel, diagnostics: &mut Diagnostics) {
    let username = model.repository_username.is_some();
    let password = model.repository_password.is_some();
    let password_wo = model.repository_password_wo.is_some();
    let incomplete = |missing: &str, detail: String| {
        Diagnostic::error("Incomplete Repository Credentials", detail)
            .at(AttributePath::new(missing))
    };
    if password && password_wo {
        diagnostics.push(
            Diagnostic::error(
                "Conflicting Repository Passwords",
                "Set one of repository_password and repository_password_wo, not both.",
            )
            .at(AttributePath::new("repository_password_wo")),
        );
    }
    if username && !password && !password_wo {
        diagnostics.push(incomplete(
            "repository_password",
            "repository_username is set but no password is: set repository_password or repository_password_wo too (helm logs in with the pair), or neither.".into(),
        ));
    }
    if !username && (password || password_wo) {
        let which = if password {
            "repository_password"
        } else {
            "repository_password_wo"
        };
        diagnostics.push(incomplete(
            "repository_username",
            format!("{which} is set but repository_username is not: set both (helm logs in with the pair) or neither."),
        ));
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
