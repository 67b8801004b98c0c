//! Which GitLab the drain talks to for a release. The drain sends the GitLab access token
//! (`PRIVATE-TOKEN`) and the runner's authentication token (`POST /runners/verify`), so it must
//! talk to the GitLab the runner belongs to, never to a built-in default:
//!
//! 1. a configured `base_url` (or `GITLAB_BASE_URL`) — only on the host of the release's
//!    `gitlab_url`, unless `allow_different_host` (a GitLab whose API lives on another host);
//! 2. else the release's `gitlab_url`;
//! 3. else, in a GitLab CI job, `CI_SERVER_URL`;
//! 4. else no GitLab access (the drain relies on job pods and says so).

use std::fmt;

use super::message::DrainMessage;
use gitlab_runner_api::url_for_messages;
use url::Url;

use crate::config::{GitLabSettings, UrlSource};

/// Where the drain's GitLab URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiUrlSource {
    /// `gitlab { base_url }` or `GITLAB_BASE_URL`.
    Configured(UrlSource),
    /// The release's `gitlab_url`.
    ReleaseGitlabUrl,
    /// `CI_SERVER_URL` of the GitLab CI job running Terraform.
    CiServerUrl,
}

impl fmt::Display for ApiUrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured(source) => source.fmt(f),
            Self::ReleaseGitlabUrl => f.write_str("the release's gitlab_url"),
            Self::CiServerUrl => f.write_str("CI_SERVER_URL"),
        }
    }
}

/// The GitLab URL the drain of one release uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainApiUrl {
    pub url: String,
    pub source: ApiUrlSource,
}

/// A configured `base_url` on another host than the release's `gitlab_url`, without
/// `allow_different_host`. Nothing is sent to either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{setting} ({base_url}) is on host {base_host}, but the runner belongs to the GitLab at \
     gitlab_url ({gitlab_url}, host {gitlab_host})"
)]
pub struct HostMismatch {
    /// The configured URL, shown without user information or query.
    pub base_url: String,
    /// Where `base_url` was configured.
    pub setting: UrlSource,
    pub base_host: String,
    /// The release's `gitlab_url`, shown without user information or query.
    pub gitlab_url: String,
    pub gitlab_host: String,
}

impl HostMismatch {
    /// How to let a different host through, for where `base_url` was configured.
    pub fn opt_out(&self) -> &'static str {
        match self.setting {
            UrlSource::Attribute => {
                "set allow_different_host = true in the provider's gitlab block"
            }
            UrlSource::Environment => {
                "set allow_different_host = true in the provider's gitlab block (or \
                 GITLAB_ALLOW_DIFFERENT_HOST=true)"
            }
        }
    }

    /// What Terraform shows (the release makes it an error at its `gitlab_url`); `release` names
    /// the release.
    pub fn message(&self, release: &str) -> DrainMessage {
        let opt_out = self.opt_out();
        DrainMessage::new(
            "GitLab API Host Differs From gitlab_url",
            format!(
                "The drain of release {release} would send the GitLab token and the runner's \
                 authentication token to {base_url} ({source}), but the runner belongs to \
                 {gitlab_url} (gitlab_url): host {base_host} is not {gitlab_host}. Nothing was \
                 sent to either. Remove base_url (the drain then uses gitlab_url) or point it at \
                 {gitlab_host}; only if GitLab's API really is served on {base_host}, {opt_out}.",
                base_url = self.base_url,
                source = self.setting,
                gitlab_url = self.gitlab_url,
                base_host = self.base_host,
                gitlab_host = self.gitlab_host,
            ),
        )
    }
}

/// The GitLab URL for a release's drain (see the module docs); `Ok(None)` when none is known.
pub fn drain_api_url(
    settings: &GitLabSettings,
    gitlab_url: Option<&str>,
) -> Result<Option<DrainApiUrl>, HostMismatch> {
    let gitlab_url = gitlab_url.map(str::trim).filter(|url| !url.is_empty());
    if let Some(configured) = &settings.base_url {
        if let Some(gitlab_url) = gitlab_url
            && !settings.allow_different_host
        {
            check_same_host(&configured.url, configured.source, gitlab_url)?;
        }
        return Ok(Some(DrainApiUrl {
            url: configured.url.clone(),
            source: ApiUrlSource::Configured(configured.source),
        }));
    }
    if let Some(gitlab_url) = gitlab_url {
        return Ok(Some(DrainApiUrl {
            url: gitlab_url.to_owned(),
            source: ApiUrlSource::ReleaseGitlabUrl,
        }));
    }
    Ok(settings.ci_server_url.as_ref().map(|url| DrainApiUrl {
        url: url.clone(),
        source: ApiUrlSource::CiServerUrl,
    }))
}

/// Refuses a `base_url` whose host is not `gitlab_url`'s (an unreadable URL counts as another
/// host: the runner's GitLab cannot be confirmed).
fn check_same_host(
    base_url: &str,
    source: UrlSource,
    gitlab_url: &str,
) -> Result<(), HostMismatch> {
    let base = Url::parse(base_url.trim()).ok();
    let gitlab = Url::parse(gitlab_url).ok();
    let base_host = base.as_ref().and_then(host);
    let gitlab_host = gitlab.as_ref().and_then(host);
    if base_host.is_some() && base_host == gitlab_host {
        return Ok(());
    }
    let unreadable = || "(not a URL with a host)".to_owned();
    Err(HostMismatch {
        base_url: base.as_ref().map_or_else(unreadable, url_for_messages),
        setting: source,
        base_host: base_host.unwrap_or_else(unreadable),
        gitlab_url: gitlab.as_ref().map_or_else(unreadable, url_for_messages),
        gitlab_host: gitlab_host.unwrap_or_else(unreadable),
    })
}

/// The host, lower-cased and without a trailing dot (`GitLab.Example.com.` = `gitlab.example.com`).
fn host(url: &Url) -> Option<String> {
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfiguredUrl;

    fn settings(
        base_url: Option<(&str, UrlSource)>,
        allow: bool,
        ci: Option<&str>,
    ) -> GitLabSettings {
        GitLabSettings {
            base_url: base_url.map(|(url, source)| ConfiguredUrl {
                url: url.to_owned(),
                source,
            }),
            allow_different_host: allow,
            ci_server_url: ci.map(str::to_owned),
            token: Some("glpat-x".into()),
            ca_certificate: None,
            ca_certificate_file: None,
        }
    }

    fn resolved(url: &str, source: ApiUrlSource) -> Option<DrainApiUrl> {
        Some(DrainApiUrl {
            url: url.to_owned(),
            source,
        })
    }

    #[test]
    fn without_base_url_the_release_gitlab_then_the_ci_server_is_used_never_gitlab_com() {
        let plain = settings(None, false, Some("https://ci.example.com"));
        assert_eq!(
            drain_api_url(&plain, Some("https://gitlab.example.com")),
            Ok(resolved(
                "https://gitlab.example.com",
                ApiUrlSource::ReleaseGitlabUrl
            ))
        );
        assert_eq!(
            drain_api_url(&plain, Some(" ")),
            Ok(resolved(
                "https://ci.example.com",
                ApiUrlSource::CiServerUrl
            ))
        );
        assert_eq!(drain_api_url(&settings(None, false, None), None), Ok(None));
    }

    #[test]
    fn base_url_on_the_same_host_is_used() {
        let same = settings(
            Some((
                "https://GitLab.example.com.:8443/api/v4",
                UrlSource::Attribute,
            )),
            false,
            None,
        );
        assert_eq!(
            drain_api_url(&same, Some("https://gitlab.example.com")),
            Ok(resolved(
                "https://GitLab.example.com.:8443/api/v4",
                ApiUrlSource::Configured(UrlSource::Attribute)
            ))
        );
    }

    #[test]
    fn base_url_on_another_host_is_refused_naming_both_unless_allowed() {
        let other = settings(
            Some(("https://gitlab.com", UrlSource::Environment)),
            false,
            None,
        );
        let error = drain_api_url(&other, Some("https://me:pw@gitlab.internal/?x=1")).unwrap_err();
        assert_eq!(
            error,
            HostMismatch {
                base_url: "https://gitlab.com/".into(),
                setting: UrlSource::Environment,
                base_host: "gitlab.com".into(),
                gitlab_url: "https://gitlab.internal/".into(),
                gitlab_host: "gitlab.internal".into(),
            }
        );
        let diagnostic = error.message("ci/runner");
        assert_eq!(
            diagnostic.summary,
            "GitLab API Host Differs From gitlab_url"
        );
        for part in [
            "release ci/runner",
            "https://gitlab.com/ (GITLAB_BASE_URL)",
            "https://gitlab.internal/ (gitlab_url)",
            "Nothing was sent",
            "GITLAB_ALLOW_DIFFERENT_HOST=true",
        ] {
            assert!(
                diagnostic.detail.contains(part),
                "{part}: {}",
                diagnostic.detail
            );
        }
        assert!(!diagnostic.detail.contains("pw"), "{}", diagnostic.detail);

        let allowed = GitLabSettings {
            allow_different_host: true,
            ..other
        };
        assert_eq!(
            drain_api_url(&allowed, Some("https://gitlab.internal")),
            Ok(resolved(
                "https://gitlab.com",
                ApiUrlSource::Configured(UrlSource::Environment)
            ))
        );
    }

    #[test]
    fn an_unreadable_gitlab_url_cannot_confirm_the_host() {
        let configured = settings(
            Some(("https://gitlab.example.com", UrlSource::Attribute)),
            false,
            None,
        );
        let error = drain_api_url(&configured, Some("gitlab.example.com")).unwrap_err();
        assert_eq!(error.gitlab_host, "(not a URL with a host)");
    }
}
