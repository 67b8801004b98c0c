//! Requests as plain values, built by pure functions: method, path, query and JSON body.
//! No I/O here, so every request is unit-tested for exact equality.

use std::fmt;

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::models::{CreateRunner, RunnerScope, RunnerSettings};
use crate::operation::Operation;

/// Jobs fetched per page when listing (GitLab's maximum).
pub const JOBS_PER_PAGE: u64 = 100;

/// One API request, relative to `<gitlab>/api/v4`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path below `/api/v4`, e.g. `/runners/42`.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Whether the access token is sent (`PRIVATE-TOKEN`). `verify` authenticates with the
    /// runner token in its body instead.
    pub authenticated: bool,
    /// What the request is for.
    pub operation: Operation,
}

impl ApiRequest {
    fn new(method: Method, path: String, operation: Operation) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            authenticated: true,
            operation,
        }
    }

    /// The absolute URL below `api_base` (which ends in `/api/v4`).
    pub fn url(&self, api_base: &str) -> String {
        let mut url = format!("{api_base}{}", self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&form_urlencoded_pairs(&self.query));
        }
        url
    }
}

fn form_urlencoded_pairs(pairs: &[(&'static str, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl fmt::Debug for ApiRequest {
    /// Shows the body's keys only: a verify body holds a runner token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body_keys: Option<Vec<&String>> = match &self.body {
            Some(Value::Object(map)) => Some(map.keys().collect()),
            _ => None,
        };
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_keys", &body_keys)
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

/// `POST /runners/verify` with the runner token (no `system_id`: sending one would register
/// a runner manager in GitLab).
pub fn verify_runner(runner_token: &str) -> ApiRequest {
    let mut request = ApiRequest::new(
        Method::POST,
        "/runners/verify".to_owned(),
        Operation::VerifyRunner,
    );
    request.body = Some(json!({ "token": runner_token }));
    request.authenticated = false;
    request
}

/// `GET /runners/:id`.
pub fn get_runner(id: u64) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/runners/{id}"),
        Operation::GetRunner(id),
    )
}

/// `PUT /runners/:id` with `paused`.
pub fn set_paused(id: u64, paused: bool) -> ApiRequest {
    let mut request = ApiRequest::new(
        Method::PUT,
        format!("/runners/{id}"),
        Operation::UpdateRunner(id),
    );
    request.body = Some(json!({ "paused": paused }));
    request
}

/// `GET /runners/:id/jobs` for one page, optionally filtered by status.
pub fn runner_jobs(id: u64, status: Option<&str>, page: u64) -> ApiRequest {
    let mut request = ApiRequest::new(
        Method::GET,
        format!("/runners/{id}/jobs"),
        Operation::ListRunnerJobs(id),
    );
    if let Some(status) = status {
        request.query.push(("status", status.to_owned()));
    }
    request.query.push(("order_by", "id".to_owned()));
    request.query.push(("sort", "asc".to_owned()));
    request.query.push(("per_page", JOBS_PER_PAGE.to_string()));
    request.query.push(("page", page.to_string()));
    request
}

/// `GET /runners/:id/managers`.
pub fn runner_managers(id: u64) -> ApiRequest {
    ApiRequest::new(
        Method::GET,
        format!("/runners/{id}/managers"),
        Operation::ListRunnerManagers(id),
    )
}

/// `DELETE /runners/:id`.
pub fn delete_runner(id: u64) -> ApiRequest {
    ApiRequest::new(
        Method::DELETE,
        format!("/runners/{id}"),
        Operation::DeleteRunner(id),
    )
}

/// `GET /user`.
pub fn current_user() -> ApiRequest {
    ApiRequest::new(Method::GET, "/user".to_owned(), Operation::GetCurrentUser)
}

/// `POST /user/runners`.
pub fn create_user_runner(params: &CreateRunner) -> ApiRequest {
    let mut body = Map::new();
    let (runner_type, owner) = match params.scope {
        RunnerScope::Instance => ("instance_type", None),
        RunnerScope::Group(id) => ("group_type", Some(("group_id", id))),
        RunnerScope::Project(id) => ("project_type", Some(("project_id", id))),
    };
    body.insert("runner_type".into(), json!(runner_type));
    if let Some((key, id)) = owner {
        body.insert(key.into(), json!(id));
    }
    put_settings(&mut body, &params.settings());
    let mut request = ApiRequest::new(
        Method::POST,
        "/user/runners".to_owned(),
        Operation::CreateUserRunner,
    );
    request.body = Some(Value::Object(body));
    request
}

/// `PUT /runners/:id` with every given setting.
pub fn update_runner(id: u64, settings: &RunnerSettings) -> ApiRequest {
    let mut body = Map::new();
    put_settings(&mut body, settings);
    let mut request = ApiRequest::new(
        Method::PUT,
        format!("/runners/{id}"),
        Operation::UpdateRunner(id),
    );
    request.body = Some(Value::Object(body));
    request
}

/// `POST /runners/:id/reset_authentication_token`.
pub fn reset_runner_token(id: u64) -> ApiRequest {
    ApiRequest::new(
        Method::POST,
        format!("/runners/{id}/reset_authentication_token"),
        Operation::ResetRunnerToken(id),
    )
}

/// The given settings as JSON body fields (unset ones left out).
fn put_settings(body: &mut Map<String, Value>, settings: &RunnerSettings) {
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_owned(), value);
        }
    };
    put(
        "description",
        settings.description.as_ref().map(|v| json!(v)),
    );
    put("tag_list", settings.tag_list.as_ref().map(|v| json!(v)));
    put("run_untagged", settings.run_untagged.map(|v| json!(v)));
    put("locked", settings.locked.map(|v| json!(v)));
    put("paused", settings.paused.map(|v| json!(v)));
    put(
        "access_level",
        settings.access_level.map(|v| json!(v.as_str())),
    );
    put(
        "maximum_timeout",
        settings.maximum_timeout.map(|v| json!(v)),
    );
    put(
        "maintenance_note",
        settings.maintenance_note.as_ref().map(|v| json!(v)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::AccessLevel;

    const BASE: &str = "https://gitlab.example.com/api/v4";

    #[test]
    fn verify_sends_only_the_runner_token_without_private_token() {
        let request = verify_runner("glrt-abc");
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/runners/verify"
        );
        assert_eq!(request.body, Some(json!({"token": "glrt-abc"})));
        assert!(!request.authenticated);
        assert!(!format!("{request:?}").contains("glrt-abc"));
    }

    #[test]
    fn get_runner_request() {
        let request = get_runner(42);
        assert_eq!(request.method, Method::GET);
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/runners/42"
        );
        assert_eq!(request.body, None);
        assert!(request.authenticated);
        assert_eq!(request.operation, Operation::GetRunner(42));
    }

    #[test]
    fn pause_and_resume_requests() {
        let pause = set_paused(7, true);
        assert_eq!(pause.method, Method::PUT);
        assert_eq!(
            pause.url(BASE),
            "https://gitlab.example.com/api/v4/runners/7"
        );
        assert_eq!(pause.body, Some(json!({"paused": true})));
        assert_eq!(set_paused(7, false).body, Some(json!({"paused": false})));
    }

    #[test]
    fn running_jobs_page_request() {
        let request = runner_jobs(7, Some("running"), 3);
        assert_eq!(request.method, Method::GET);
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/runners/7/jobs?status=running&order_by=id&sort=asc&per_page=100&page=3"
        );
        assert_eq!(
            runner_jobs(7, None, 1).url(BASE),
            "https://gitlab.example.com/api/v4/runners/7/jobs?order_by=id&sort=asc&per_page=100&page=1"
        );
    }

    #[test]
    fn managers_and_delete_requests() {
        let managers = runner_managers(9);
        assert_eq!(managers.method, Method::GET);
        assert_eq!(
            managers.url(BASE),
            "https://gitlab.example.com/api/v4/runners/9/managers"
        );
        let delete = delete_runner(9);
        assert_eq!(delete.method, Method::DELETE);
        assert_eq!(
            delete.url(BASE),
            "https://gitlab.example.com/api/v4/runners/9"
        );
        assert_eq!(delete.body, None);
    }

    #[test]
    fn current_user_request() {
        let request = current_user();
        assert_eq!(request.method, Method::GET);
        assert_eq!(request.url(BASE), "https://gitlab.example.com/api/v4/user");
        assert!(request.authenticated);
        assert_eq!(request.body, None);
    }

    #[test]
    fn create_instance_runner_with_defaults_sends_only_the_type() {
        let request = create_user_runner(&CreateRunner::default());
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/user/runners"
        );
        assert_eq!(request.body, Some(json!({"runner_type": "instance_type"})));
    }

    #[test]
    fn create_project_runner_with_every_setting() {
        let request = create_user_runner(&CreateRunner {
            scope: RunnerScope::Project(12),
            description: Some("k8s".into()),
            tag_list: Some(vec!["a".into(), "b c".into()]),
            run_untagged: Some(false),
            locked: Some(true),
            paused: Some(true),
            access_level: Some(AccessLevel::RefProtected),
            maximum_timeout: Some(3600),
            maintenance_note: Some("owned by terraform".into()),
        });
        assert_eq!(
            request.body,
            Some(json!({
                "runner_type": "project_type",
                "project_id": 12,
                "description": "k8s",
                "tag_list": ["a", "b c"],
                "run_untagged": false,
                "locked": true,
                "paused": true,
                "access_level": "ref_protected",
                "maximum_timeout": 3600,
                "maintenance_note": "owned by terraform",
            }))
        );
        let group = create_user_runner(&CreateRunner {
            scope: RunnerScope::Group(4),
            ..CreateRunner::default()
        });
        assert_eq!(
            group.body,
            Some(json!({"runner_type": "group_type", "group_id": 4}))
        );
    }

    #[test]
    fn update_sends_every_given_setting_and_reset_has_no_body() {
        let request = update_runner(
            3,
            &RunnerSettings {
                description: Some("d".into()),
                tag_list: Some(vec![]),
                run_untagged: Some(true),
                locked: Some(false),
                paused: Some(false),
                access_level: Some(AccessLevel::NotProtected),
                maximum_timeout: Some(600),
                maintenance_note: Some(String::new()),
            },
        );
        assert_eq!(request.method, Method::PUT);
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/runners/3"
        );
        assert_eq!(
            request.body,
            Some(json!({
                "description": "d", "tag_list": [], "run_untagged": true, "locked": false,
                "paused": false, "access_level": "not_protected", "maximum_timeout": 600,
                "maintenance_note": "",
            }))
        );
        let reset = reset_runner_token(3);
        assert_eq!(reset.method, Method::POST);
        assert_eq!(
            reset.url(BASE),
            "https://gitlab.example.com/api/v4/runners/3/reset_authentication_token"
        );
        assert_eq!(reset.body, None);
        assert!(reset.authenticated);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let mut request = get_runner(1);
        request.query.push(("x", "a b&c".into()));
        assert_eq!(
            request.url(BASE),
            "https://gitlab.example.com/api/v4/runners/1?x=a%20b%26c"
        );
    }
}
