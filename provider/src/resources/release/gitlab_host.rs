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
        .map(|error| error.to_diagnostic(&release_id(document)))
}

/// Adds the mismatch error of a create or update plan to `diagnostics`.
pub fn check_plan(ctx: &Context, plan: &Document, diagnostics: &mut Diagnostics) {
    let Ok(config) = ctx.provider::<ProviderConfig>() else {
        return;
    };
    if let Some(error) = mismatch(&config, plan) {
        diagnostics.push(error);
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
        Ok(access) => plan_warnings(access.is_some(), &id).into_iter().collect(),
        Err(error @ GitlabAccessError::HostMismatch(_)) => {
            Diagnostics::from(error.to_diagnostic(&id))
        }
        // Settings that cannot make a client fail the destroy itself, with their own message.
        Err(GitlabAccessError::Client(_)) => plan_warnings(false, &id).into_iter().collect(),
    }
}
