//! Registry errors in the distribution-spec shape: a status code, an error code, a message,
//! an optional detail, and the extra headers some of them need (challenges, `Range`).

use hyper::Response;
use serde_json::{Value, json};

use crate::http::{Body, respond};

/// The error codes of the OCI distribution spec (plus the few distribution also uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    PaginationNumberInvalid,
    Unavailable,
    Unknown,
}

impl ErrorCode {
    /// The code as written in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }

    /// The code a fault-injected status answers with.
    pub fn for_status(status: u16) -> ErrorCode {
        match status {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Denied,
            404 => ErrorCode::NameUnknown,
            405 => ErrorCode::Unsupported,
            429 => ErrorCode::TooManyRequests,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Unknown,
        }
    }
}

/// A failed registry request.
#[derive(Debug, Clone)]
pub struct OciError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    pub detail: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl OciError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> OciError {
        OciError {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: Value) -> OciError {
        self.detail = detail;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> OciError {
        self.headers.push((name, value.into()));
        self
    }

    pub fn blob_unknown(digest: &str) -> OciError {
        OciError::new(404, ErrorCode::BlobUnknown, "blob unknown to registry")
            .with_detail(json!({ "digest": digest }))
    }

    pub fn upload_unknown(id: &str) -> OciError {
        OciError::new(
            404,
            ErrorCode::BlobUploadUnknown,
            "blob upload unknown to registry",
        )
        .with_detail(json!({ "uuid": id }))
    }

    pub fn manifest_unknown(reference: &str) -> OciError {
        OciError::new(404, ErrorCode::ManifestUnknown, "manifest unknown")
            .with_detail(json!({ "reference": reference }))
    }

    pub fn name_unknown(name: &str) -> OciError {
        OciError::new(
            404,
            ErrorCode::NameUnknown,
            "repository name not known to registry",
        )
        .with_detail(json!({ "name": name }))
    }

    pub fn digest_invalid(message: impl Into<String>) -> OciError {
        OciError::new(400, ErrorCode::DigestInvalid, message)
    }

    pub fn manifest_invalid(message: impl Into<String>) -> OciError {
        OciError::new(400, ErrorCode::ManifestInvalid, message)
    }

    pub fn unsupported_method(method: &str, allowed: &str) -> OciError {
        OciError::new(
            405,
            ErrorCode::Unsupported,
            format!("the method {method} is not supported here"),
        )
        .with_header("allow", allowed)
    }

    /// The JSON error body: `{"errors":[{"code","message","detail"}]}`.
    pub fn body(&self) -> Value {
        json!({ "errors": [{
            "code": self.code.as_str(),
            "message": self.message,
            "detail": self.detail,
        }]})
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = respond(
            self.status,
            Some("application/json; charset=utf-8"),
            self.body().to_string(),
        );
        for (name, value) in self.headers {
            if let Ok(v) = value.parse() {
                response.headers_mut().append(name, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_spec_shape() {
        let e = OciError::blob_unknown("sha256:00");
        assert_eq!(
            e.body(),
            json!({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":{"digest":"sha256:00"}}]})
        );
        assert_eq!(ErrorCode::for_status(503).as_str(), "UNAVAILABLE");
        assert_eq!(ErrorCode::for_status(429).as_str(), "TOOMANYREQUESTS");
    }
}
