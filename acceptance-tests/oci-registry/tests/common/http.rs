//! A small HTTP client for the registry: one request, read whole into a [`Reply`].

use oci_registry_test_server::TestRegistry;

/// A ureq agent that reports every status as a response and follows no redirects.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// A response read in full.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

/// Shows the body as text, so failure messages are readable.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The first error code of a spec error body.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let errors = body["errors"].as_array().expect("an errors array");
        assert!(!errors.is_empty(), "{body}");
        assert!(errors[0]["message"].is_string(), "{body}");
        assert!(errors[0].get("detail").is_some(), "{body}");
        errors[0]["code"].as_str().expect("a code").to_string()
    }

    /// Asserts the status and the spec error code of the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{self:?}"
        );
    }

    /// The `Location` header, which must be present.
    #[track_caller]
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location header: {self:?}"))
            .to_string()
    }
}

/// Sends one request and reads the whole answer.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(body.to_vec()).unwrap();
    let mut response = agent().run(request).unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        response.body_mut().read_to_vec().unwrap()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Requests to one registry by path, optionally with an `Authorization` header on each.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    authorization: Option<String>,
}

impl Client {
    pub fn new(registry: &TestRegistry) -> Client {
        Client {
            base_url: registry.base_url(),
            authorization: None,
        }
    }

    /// The same client sending `Authorization: VALUE`.
    pub fn authorized(&self, value: &str) -> Client {
        Client {
            authorization: Some(value.to_string()),
            ..self.clone()
        }
    }

    /// The registry's URL for `path` (`/v2/…`, `/token…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends `METHOD path` with `headers` (and the client's authorization) and `body`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut all = headers.to_vec();
        if let Some(value) = &self.authorization {
            all.push(("authorization", value));
        }
        send(method, &self.url(path), &all, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn head(&self, path: &str) -> Reply {
        self.request("HEAD", path, &[], b"")
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Reply {
        self.request("POST", path, &[], body)
    }
}
