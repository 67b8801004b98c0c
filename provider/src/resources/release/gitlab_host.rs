//! Plan-time check that the drain will talk to the GitLab the runner belongs to (issue 11): a
//! provider `base_url` (or `GITLAB_BASE_URL`) on another host than the release's `gitlab_url`
//! is an error in the plan — before the destroy (or a `drain_on_update` update) would send the
//! GitLab token and the runner token there. Nothing is sent to GitLab at plan time.

use tfplugin::{AttributePath, Context, Diagnostic, Diagnostics, Document, Value};

use crate::ProviderConfig;
use crate::drain::{GitlabAccess, GitlabAccessError, drain_api_url, plan_warnings};

fn string_attr<'a>(document: &'a Document, name: &str) -> Option<&'a str> {
    document
        .attr(&AttributePath::new(name))
        .and_then(Value::as_str)
}

fn release_id(document: &Document) -> String {
    match (
        string_attr(document, "namespace"),
        string_attr(document, "name"),
    ) {
        (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
        (None, Some(name)) => name.to_owned(),
        _ => "(not known yet)".to_owned(),
    }
}

/// The mismatch error for a release whose known `gitlab_url` is in `document` (a plan or a
/// prior state); `None` when the drain would use the runner's GitLab, when no GitLab token is
/// configured (then nothing is sent anywhere), or while a URL is unknown.
pub fn mismatch(config: &ProviderConfig, document: &Document) -> Option<Diagnostic> {
    let settings = config.gitlab.as_ref()?;
    settings.token.as_deref().filter(|t| !t.trim().is_empty())?;
    if config
        .unknown_attributes
        .iter()
        .any(|name| name.starts_with("gitlab"))
    {
        return None;
    }
    let gitlab_url = string_attr(document, "gitlab_url")?;
    drain_api_url(settings, Some(gitlab_url))
        .err()
        .map(|error| super::drain::host_mismatch_diagnostic(&error, &release_id(document)))
}

/// Adds the mismatch error of a create or update plan to `diagnostics`. With
/// `drain_on_update`, an update drains the runner where it is now — the prior `gitlab_url` — so
/// that one is checked too when it changes.
pub fn check_plan(ctx: &Context, prior: &Document, plan: &Document, diagnostics: &mut Diagnostics) {
    let Ok(config) = ctx.provider::<ProviderConfig>() else {
        return;
    };
    if let Some(error) = plan_mismatch(&config, prior, plan) {
        diagnostics.push(error);
    }
}

/// [`check_plan`]'s decision.
fn plan_mismatch(config: &ProviderConfig, prior: &Document, plan: &Document) -> Option<Diagnostic> {
    if let Some(error) = mismatch(config, plan) {
        return Some(error);
    }
    let drains_on_update = plan
        .attr(&AttributePath::new("drain_on_update"))
        .is_some_and(|value| *value == Value::from(true));
    let moves = string_attr(prior, "gitlab_url") != string_attr(plan, "gitlab_url");
    if drains_on_update && !prior.is_null() && moves {
        mismatch(config, prior)
    } else {
        None
    }
}

/// A destroy plan's diagnostics: the mismatch error, or the warning that the drain will have
/// no GitLab access (job pods alone decide).
pub fn destroy_plan_diagnostics(ctx: &Context, prior_state: &Document) -> Diagnostics {
    let Ok(config) = ctx.provider::<ProviderConfig>() else {
        return Diagnostics::new();
    };
    let id = release_id(prior_state);
    let gitlab_url = string_attr(prior_state, "gitlab_url");
    match GitlabAccess::for_release(config.gitlab.as_ref(), gitlab_url) {
        Ok(access) => plan_warnings(access.is_some(), &id)
            .into_iter()
            .map(super::drain::warning_diagnostic)
            .collect(),
        Err(error @ GitlabAccessError::HostMismatch(_)) => {
            Diagnostics::from(super::drain::access_diagnostic(&error, &id))
        }
        // Settings that cannot make a client fail the destroy itself, with their own message.
        Err(GitlabAccessError::Client(_)) => plan_warnings(false, &id)
            .into_iter()
            .map(super::drain::warning_diagnostic)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{ConfiguredUrl, GitLabSettings, UrlSource};

    fn config(base_url: Option<&str>, token: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            gitlab: Some(GitLabSettings {
                base_url: base_url.map(|url| ConfiguredUrl {
                    url: url.to_owned(),
                    source: UrlSource::Attribute,
                }),
                allow_different_host: false,
                ci_server_url: None,
                token: token.map(str::to_owned),
                ca_certificate: None,
                ca_certificate_file: None,
            }),
            ..ProviderConfig::default()
        }
    }

    fn release(gitlab_url: Value, drain_on_update: bool) -> Document {
        let ty = Arc::new(super::super::schema::schema().value_type());
        let value = Value::object([
            ("name", Value::from("runner")),
            ("namespace", Value::from("ci")),
            ("gitlab_url", gitlab_url),
            ("drain_on_update", Value::from(drain_on_update)),
        ])
        .conform(&ty)
        .unwrap();
        Document::new(ty, value)
    }

    fn null_release() -> Document {
        Document::null(Arc::new(super::super::schema::schema().value_type()))
    }

    #[test]
    fn a_plan_with_base_url_on_another_host_is_an_error_at_gitlab_url() {
        let other = config(Some("https://gitlab.com"), Some("glpat-x"));
        let plan = release(Value::from("https://gitlab.internal"), false);
        let error = plan_mismatch(&other, &null_release(), &plan).unwrap();
        assert_eq!(error.summary, "GitLab API Host Differs From gitlab_url");
        assert_eq!(
            error.attribute.map(|path| path.to_string()).as_deref(),
            Some("gitlab_url")
        );
        assert!(
            error.detail.contains("release ci/runner"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn no_error_on_the_same_host_without_a_token_or_while_gitlab_url_is_unknown() {
        let plan = release(Value::from("https://gitlab.internal"), false);
        let same = config(Some("https://GITLAB.internal:8443"), Some("glpat-x"));
        assert_eq!(plan_mismatch(&same, &null_release(), &plan), None);
        let no_token = config(Some("https://gitlab.com"), None);
        assert_eq!(plan_mismatch(&no_token, &null_release(), &plan), None);
        let other = config(Some("https://gitlab.com"), Some("glpat-x"));
        let unknown = release(Value::Unknown, false);
        assert_eq!(plan_mismatch(&other, &null_release(), &unknown), None);
    }

    #[test]
    fn drain_on_update_also_checks_the_gitlab_the_runner_is_leaving() {
        let settings = config(Some("https://gitlab.new"), Some("glpat-x"));
        let prior = release(Value::from("https://gitlab.old"), true);
        let plan = release(Value::from("https://gitlab.new"), true);
        let error = plan_mismatch(&settings, &prior, &plan).unwrap();
        assert!(
            error.detail.contains("https://gitlab.old/"),
            "{}",
            error.detail
        );
        let without_drain = release(Value::from("https://gitlab.new"), false);
        assert_eq!(plan_mismatch(&settings, &prior, &without_drain), None);
    }
}
