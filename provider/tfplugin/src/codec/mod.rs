//! Wire encodings of [`Value`](crate::Value): msgpack (DynamicValue) and JSON (stored state).
//! Both are directed by the [`Type`](crate::Type) the value is meant to have.

pub mod budget;
pub mod json;
pub mod msgpack;

use crate::path::AttributePath;

/// Bytes that could not be decoded (or a value that could not be encoded) as the given type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if .path.is_root() { String::new() } else { format!(" (at {})", .path) })]
pub struct CodecError {
    pub path: AttributePath,
    pub message: String,
}

impl CodecError {
    pub(crate) fn new(path: &AttributePath, message: impl Into<String>) -> CodecError {
        CodecError {
            path: path.clone(),
            message: message.into(),
        }
    }
}
