//! The state shared by all requests of one server: content, auth, request log and faults.

use std::sync::{Mutex, MutexGuard};

use crate::auth::{AuthKind, Authenticator};
use crate::error::{ErrorCode, OciError};
use crate::store::Store;

/// One answered request, as recorded in the log. Secrets never appear: the query has
/// `password`/`token`-like parameters redacted and the `Authorization` header is reduced to its
/// scheme and (for basic credentials or known tokens) the user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The query string with secret parameters replaced by `<redacted>`.
    pub query: Option<String>,
    pub status: u16,
    /// The scheme of the `Authorization` header the client sent.
    pub auth: AuthKind,
    /// The user named by the credentials or token, if any.
    pub user: Option<String>,
}

/// Answers the next `remaining` requests with `status`.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub remaining: u32,
    pub status: u16,
}

pub struct Context {
    store: Mutex<Store>,
    pub auth: Authenticator,
    pub base_url: String,
    pub absolute_locations: bool,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub fault: Mutex<Option<Fault>>,
}

impl Context {
    pub fn new(auth: Authenticator, base_url: String, absolute_locations: bool) -> Context {
        Context {
            store: Mutex::new(Store::default()),
            auth,
            base_url,
            absolute_locations,
            log: Mutex::new(Vec::new()),
            fault: Mutex::new(None),
        }
    }

    /// Locks the content.
    pub fn store(&self) -> Result<MutexGuard<'_, Store>, OciError> {
        self.store
            .lock()
            .map_err(|_| OciError::new(500, ErrorCode::Unknown, "the store lock is poisoned"))
    }

    /// A `Location` for a registry path: relative, or absolute when configured.
    pub fn location(&self, path: &str) -> String {
        if self.absolute_locations {
            format!("{}{path}", self.base_url)
        } else {
            path.to_string()
        }
    }

    /// Consumes one injected fault, if any is pending.
    pub fn take_fault(&self) -> Option<u16> {
        let mut fault = self.fault.lock().ok()?;
        let current = fault.as_mut()?;
        let status = current.status;
        current.remaining = current.remaining.saturating_sub(1);
        if current.remaining == 0 {
            *fault = None;
        }
        Some(status)
    }

    pub fn record(&self, entry: LoggedRequest) {
        if let Ok(mut log) = self.log.lock() {
            log.push(entry);
        }
    }
}

const SECRET_PARAMETERS: [&str; 5] = ["password", "token", "access_token", "refresh_token", "code"];

/// The query string with secret parameters redacted.
pub fn redact_query(query: &str) -> String {
    let pairs = crate::http::parse_pairs(query);
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        if SECRET_PARAMETERS.contains(&k.to_ascii_lowercase().as_str()) {
            out.append_pair(k, "<redacted>");
        } else {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_queries() {
        let q = redact_query("scope=repository%3Aa%3Apull&password=hunter2&service=s");
        assert!(!q.contains("hunter2"), "{q}");
        assert!(q.contains("scope=repository%3Aa%3Apull"), "{q}");
    }
}
