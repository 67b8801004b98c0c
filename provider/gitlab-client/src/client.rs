//! The HTTP client: sends [`ApiRequest`]s and turns answers into models or [`GitlabError`]s.
//! Every method makes one attempt per request; wrap calls in [`crate::retry`] to retry.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Certificate, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::GitlabError;
use crate::models::{
    CreateRunner, CreatedRunner, CurrentUser, Deletion, Job, Manager, RawCreatedRunner,
    RawResetToken, ResetToken, Runner, RunnerIdentity, RunnerSettings,
};
use crate::operation::Operation;
use crate::redirect::{self, CrossOriginRedirect, MAX_REDIRECTS, TooManyRedirects};
use crate::requests::{self, ApiRequest};

/// Stop following `x-next-page` after this many pages (a guard against a looping server).
const MAX_PAGES: u64 = 1000;
/// Longest GitLab message kept in an error.
const MAX_DETAIL_CHARS: usize = 300;

/// How to reach GitLab.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// GitLab URL, e.g. `https://gitlab.example.com` (a trailing `/api/v4` is accepted too).
    pub base_url: String,
    /// Personal, group or project access token (sent as `PRIVATE-TOKEN`).
    pub token: SecretString,
    /// Extra trusted CA certificates (PEM, may hold several), for self-managed GitLab.
    pub ca_certificates_pem: Option<String>,
    /// Skip TLS certificate verification (testing only).
    pub insecure_skip_tls_verify: bool,
    /// Limit for one request, connection included.
    pub request_timeout: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
}

impl ClientConfig {
    /// A configuration with default timeouts (30 s per request, 10 s to connect).
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            ca_certificates_pem: None,
            insecure_skip_tls_verify: false,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A GitLab REST client for runners. Cheap to clone. Its `Debug` output never shows the token.
#[derive(Clone)]
pub struct GitlabClient {
    api_base: String,
    token: Arc<SecretString>,
    http: reqwest::Client,
}

impl std::fmt::Debug for GitlabClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabClient")
            .field("api_base", &self.api_base)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Normalises a GitLab URL to its API base (`…/api/v4`, no trailing slash).
pub fn api_base_url(base_url: &str) -> Result<String, GitlabError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    // A URL with `@` may carry credentials: never repeat it.
    let shown = if trimmed.contains('@') {
        "(redacted)"
    } else {
        trimmed
    };
    let invalid = |why: &str| GitlabError::InvalidConfig {
        reason: format!(
            "the GitLab URL {shown:?} {why}; expected something like https://gitlab.example.com"
        ),
    };
    let parsed = reqwest::Url::parse(trimmed).map_err(|_| invalid("is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with https:// (or http://)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(GitlabError::InvalidConfig {
            reason: "the GitLab URL must not contain credentials; put the token in the token \
                     setting instead"
                .to_owned(),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    if trimmed.ends_with("/api/v4") {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}/api/v4"))
    }
}

impl GitlabClient {
    /// Builds a client (no request is made).
    pub fn new(config: ClientConfig) -> Result<Self, GitlabError> {
        let api_base = api_base_url(&config.base_url)?;
        if config.token.expose_secret().trim().is_empty() {
            return Err(GitlabError::InvalidConfig {
                reason: "the GitLab token is empty".to_owned(),
            });
        }
        if HeaderValue::from_str(config.token.expose_secret()).is_err() {
            return Err(GitlabError::InvalidConfig {
                reason: "the GitLab token contains characters not allowed in an HTTP header \
                         (a trailing newline?)"
                    .to_owned(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!(
                "terraform-provider-gitlabrunner/",
                env!("CARGO_PKG_VERSION")
            ))
            .danger_accept_invalid_certs(config.insecure_skip_tls_verify)
            // `PRIVATE-TOKEN` and the runner token in bodies must never reach another origin.
            .redirect(redirect::same_origin_policy())
            .referer(false);
        if let Some(pem) = &config.ca_certificates_pem {
            let certificates = Certificate::from_pem_bundle(pem.as_bytes()).map_err(|error| {
                GitlabError::InvalidConfig {
                    reason: format!("the CA certificates are not valid PEM: {error}"),
                }
            })?;
            if certificates.is_empty() {
                return Err(GitlabError::InvalidConfig {
                    reason: "the CA certificates PEM holds no certificate".to_owned(),
                });
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|error| GitlabError::InvalidConfig {
                reason: format!("cannot build the HTTP client: {error}"),
            })?;
        Ok(Self {
            api_base,
            token: Arc::new(config.token),
            http,
        })
    }

    /// The API base URL (`…/api/v4`).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The id of the runner an authentication token belongs to (`POST /runners/verify`).
    /// A 403 means the token is not (or no longer) valid.
    pub async fn verify_runner(&self, runner_token: &str) -> Result<RunnerIdentity, GitlabError> {
        self.json(&requests::verify_runner(runner_token)).await
    }

    /// A runner's details.
    pub async fn get_runner(&self, id: u64) -> Result<Runner, GitlabError> {
        self.json(&requests::get_runner(id)).await
    }

    /// A runner's details, `None` when it does not exist.
    pub async fn find_runner(&self, id: u64) -> Result<Option<Runner>, GitlabError> {
        match self.get_runner(id).await {
            Ok(runner) => Ok(Some(runner)),
            Err(GitlabError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Pauses (`true`) or resumes (`false`) a runner; returns its details after the change.
    pub async fn set_paused(&self, id: u64, paused: bool) -> Result<Runner, GitlabError> {
        self.json(&requests::set_paused(id, paused)).await
    }

    /// The runner's running jobs that the token can see (every page). A non-administrator
    /// token only sees jobs of projects where its user is at least Reporter.
    pub async fn running_jobs(&self, id: u64) -> Result<Vec<Job>, GitlabError> {
        self.runner_jobs(id, Some("running")).await
    }

    /// The runner's jobs, optionally with one status, following `x-next-page`.
    pub async fn runner_jobs(
        &self,
        id: u64,
        status: Option<&str>,
    ) -> Result<Vec<Job>, GitlabError> {
        let mut jobs = Vec::new();
        let mut seen = HashSet::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let request = requests::runner_jobs(id, status, page);
            let response = self.send(&request).await?;
            let next = next_page(response.headers());
            let batch: Vec<Job> = decode(request.operation, response).await?;
            // A job can move between pages while they are read; keep the first sighting.
            jobs.extend(batch.into_iter().filter(|job| seen.insert(job.id)));
            match next {
                Some(next) if next > page => page = next,
                _ => return Ok(jobs),
            }
        }
        Ok(jobs)
    }

    /// The runner's managers.
    pub async fn managers(&self, id: u64) -> Result<Vec<Manager>, GitlabError> {
        self.json(&requests::runner_managers(id)).await
    }

    /// Deletes a runner; a runner that is already gone is not an error.
    pub async fn delete_runner(&self, id: u64) -> Result<Deletion, GitlabError> {
        match self.send(&requests::delete_runner(id)).await {
            Ok(_) => Ok(Deletion::Deleted),
            Err(GitlabError::NotFound { .. }) => Ok(Deletion::AlreadyGone),
            Err(error) => Err(error),
        }
    }

    /// Creates a runner owned by the token's user (`POST /user/runners`).
    pub async fn create_user_runner(
        &self,
        params: &CreateRunner,
    ) -> Result<CreatedRunner, GitlabError> {
        let raw: RawCreatedRunner = self.json(&requests::create_user_runner(params)).await?;
        Ok(raw.into())
    }

    /// Changes a runner's settings (`PUT /runners/:id`); returns its details after the change.
    pub async fn update_runner(
        &self,
        id: u64,
        settings: &RunnerSettings,
    ) -> Result<Runner, GitlabError> {
        self.json(&requests::update_runner(id, settings)).await
    }

    /// Gives the runner a new authentication token (`POST
    /// /runners/:id/reset_authentication_token`); the old one stops working at once.
    pub async fn reset_runner_token(&self, id: u64) -> Result<ResetToken, GitlabError> {
        let raw: RawResetToken = self.json(&requests::reset_runner_token(id)).await?;
        Ok(raw.into())
    }

    /// The token's user — notably whether it is an administrator, which decides whether
    /// [`running_jobs`](Self::running_jobs) sees every job. Needs the `read_user`, `read_api`
    /// or `api` scope (a `manage_runner`-only token gets [`GitlabError::Forbidden`]).
    pub async fn current_user(&self) -> Result<CurrentUser, GitlabError> {
        self.json(&requests::current_user()).await
    }

    async fn json<T: DeserializeOwned>(&self, request: &ApiRequest) -> Result<T, GitlabError> {
        let response = self.send(request).await?;
        decode(request.operation, response).await
    }

    /// Sends one request; non-2xx answers become errors.
    pub async fn send(&self, request: &ApiRequest) -> Result<reqwest::Response, GitlabError> {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url(&self.api_base))
            .header(reqwest::header::ACCEPT, "application/json");
        if request.authenticated {
            let mut value = HeaderValue::from_str(self.token.expose_secret()).map_err(|_| {
                GitlabError::InvalidConfig {
                    reason: "the GitLab token is not a valid header value".to_owned(),
                }
            })?;
            value.set_sensitive(true);
            builder = builder.header("PRIVATE-TOKEN", value);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|error| transport_error(request.operation, &error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        Err(status_error(request.operation, status, retry_after, &body))
    }
}

async fn decode<T: DeserializeOwned>(
    operation: Operation,
    response: reqwest::Response,
) -> Result<T, GitlabError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport_error(operation, &error))?;
    serde_json::from_slice(&bytes).map_err(|error| GitlabError::Decode {
        operation,
        detail: format!("unexpected JSON ({error})"),
    })
}

fn transport_error(operation: Operation, error: &reqwest::Error) -> GitlabError {
    let mut detail = error.to_string();
    let mut tls_failure: Option<String> = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<CrossOriginRedirect>() {
            return GitlabError::RedirectRefused {
                operation,
                from: refused.from.clone(),
                to: refused.to.clone(),
            };
        }
        if let Some(too_many) = cause.downcast_ref::<TooManyRedirects>() {
            return GitlabError::TooManyRedirects {
                operation,
                max: MAX_REDIRECTS,
                to: too_many.to.clone(),
            };
        }
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        if tls_failure.is_none() {
            tls_failure = rustls_error(cause).map(ToString::to_string);
        }
        source = cause.source();
    }
    match tls_failure {
        Some(tls) => GitlabError::Tls {
            operation,
            detail: tls,
        },
        None => GitlabError::Transport {
            operation,
            detail,
            timed_out: error.is_timeout(),
        },
    }
}

/// The rustls error behind a cause, also when wrapped in (nested) `io::Error`s, whose
/// `source()` skips the wrapped error.
fn rustls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = cause;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let io = current.downcast_ref::<std::io::Error>()?;
        current = io.get_ref()?;
    }
}

/// Classifies a non-2xx answer.
pub(crate) fn status_error(
    operation: Operation,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> GitlabError {
    let detail = gitlab_message(body)
        .map(|message| format!(" ({message})"))
        .unwrap_or_default();
    match status.as_u16() {
        401 => GitlabError::Unauthorized { operation },
        403 => GitlabError::Forbidden { operation, detail },
        404 => GitlabError::NotFound { operation, detail },
        429 => GitlabError::RateLimited {
            operation,
            retry_after,
        },
        500..=599 => GitlabError::Server {
            operation,
            status: status.as_u16(),
            detail,
            retry_after,
        },
        code => GitlabError::Rejected {
            operation,
            status: code,
            detail,
        },
    }
}

/// GitLab's explanation from an error body: `message` (text or field errors), or the OAuth
/// `error`/`error_description`/`scope` triple, or `error`; short plain text as is.
fn gitlab_message(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(object)) => {
            if let Some(message) = object.get("message") {
                match message {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }
            } else if let Some(Value::String(error)) = object.get("error") {
                match (object.get("error_description"), object.get("scope")) {
                    (Some(Value::String(description)), Some(Value::String(scope))) => {
                        format!("{error}: {description} Needed scope: {scope}")
                    }
                    (Some(Value::String(description)), _) => format!("{error}: {description}"),
                    _ => error.clone(),
                }
            } else {
                return None;
            }
        }
        Ok(_) => return None,
        Err(_) if trimmed.starts_with('<') => return None,
        Err(_) => trimmed.to_owned(),
    };
    Some(truncate(&message, MAX_DETAIL_CHARS))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The `x-next-page` header: `None` when empty or absent.
fn next_page(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("x-next-page")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_accepts_instance_url_or_api_url() {
        assert_eq!(
            api_base_url("https://gitlab.example.com").unwrap(),
            "https://gitlab.example.com/api/v4"
        );
        assert_eq!(
            api_base_url("https://gitlab.example.com/").unwrap(),
            "https://gitlab.example.com/api/v4"
        );
        assert_eq!(
            api_base_url("https://example.com/gitlab/api/v4/").unwrap(),
            "https://example.com/gitlab/api/v4"
        );
        assert_eq!(
            api_base_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/api/v4"
        );
    }

    #[test]
    fn api_base_rejects_non_http_urls() {
        for bad in [
            "gitlab.example.com",
            "ftp://gitlab.example.com",
            "https://h/?q=1",
        ] {
            let error = api_base_url(bad).unwrap_err();
            assert!(matches!(error, GitlabError::InvalidConfig { .. }), "{bad}");
        }
    }

    #[test]
    fn client_refuses_empty_or_multiline_tokens_without_echoing_them() {
        let empty = GitlabClient::new(ClientConfig::new("https://h", SecretString::from("")));
        assert!(matches!(empty, Err(GitlabError::InvalidConfig { .. })));
        let newline = GitlabClient::new(ClientConfig::new(
            "https://h",
            SecretString::from("glpat-abc\n"),
        ))
        .unwrap_err();
        assert!(!newline.to_string().contains("glpat-abc"), "{newline}");
    }

    #[test]
    fn ca_certificates_must_hold_a_certificate() {
        let mut config = ClientConfig::new("https://h", SecretString::from("glpat-x"));
        config.ca_certificates_pem = Some("not a certificate".into());
        let error = GitlabClient::new(config).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("CA certificates PEM holds no certificate")
                || error.to_string().contains("not valid PEM"),
            "{error}"
        );
    }

    #[test]
    fn client_debug_hides_the_token() {
        let client = GitlabClient::new(ClientConfig::new(
            "https://h",
            SecretString::from("glpat-supersecret"),
        ))
        .unwrap();
        let printed = format!("{client:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        let config = ClientConfig::new("https://h", SecretString::from("glpat-supersecret"));
        assert!(!format!("{config:?}").contains("supersecret"));
    }

    #[test]
    fn statuses_are_classified() {
        let op = Operation::GetRunner(1);
        let cases = [
            (401, r#"{"message":"401 Unauthorized"}"#),
            (403, r#"{"message":"403 Forbidden"}"#),
            (404, r#"{"message":"404 Not found"}"#),
            (429, "Retry later\n"),
            (502, "<html>bad gateway</html>"),
            (400, r#"{"error":"paused is invalid"}"#),
        ];
        let errors: Vec<GitlabError> = cases
            .iter()
            .map(|(code, body)| status_error(op, StatusCode::from_u16(*code).unwrap(), None, body))
            .collect();
        assert!(matches!(errors[0], GitlabError::Unauthorized { .. }));
        assert!(
            matches!(&errors[1], GitlabError::Forbidden { detail, .. } if detail == " (403 Forbidden)")
        );
        assert!(matches!(errors[2], GitlabError::NotFound { .. }));
        assert!(matches!(errors[3], GitlabError::RateLimited { .. }));
        assert!(
            matches!(&errors[4], GitlabError::Server { status: 502, detail, .. } if detail.is_empty())
        );
        assert!(
            matches!(&errors[5], GitlabError::Rejected { status: 400, detail, .. } if detail == " (paused is invalid)")
        );
    }

    #[test]
    fn insufficient_scope_body_names_the_needed_scope() {
        let body = r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api manage_runner"}"#;
        let error = status_error(
            Operation::UpdateRunner(3),
            StatusCode::FORBIDDEN,
            None,
            body,
        );
        let text = error.to_string();
        assert!(text.contains("Needed scope: api manage_runner"), "{text}");
        assert!(text.contains("`manage_runner` or `api` scope"), "{text}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn next_page_is_none_when_blank() {
        let mut headers = HeaderMap::new();
        assert_eq!(next_page(&headers), None);
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page(&headers), None);
        headers.insert("x-next-page", HeaderValue::from_static("4"));
        assert_eq!(next_page(&headers), Some(4));
    }
}
