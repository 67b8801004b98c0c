//! msgpack, the encoding of `DynamicValue.msgpack`.
//!
//! null is msgpack nil; unknown is any extension (Terraform writes type 0, refined unknowns use
//! type 12); numbers arrive as integers, floats or decimal strings; a `dynamic` value is a
//! two-element array: the type JSON (bytes) and the value.
//!
//! Both directions walk the bytes and the [`Value`] together, guided by the [`Type`]: no
//! intermediate msgpack tree, and the path of a node is a borrowed [`PathTrail`], made into an
//! [`AttributePath`] only for an error.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

use std::fmt::Display;

use super::CodecError;
use crate::path::{AttributePath, PathTrail};
use crate::types::Type;
use crate::value::Value;
use decode::Reader;
use encode::{estimated_len, write_value};

/// How deep a message may nest: the limit of the `rmpv` decoder this one replaced, kept. It
/// counts steps down from the root: one for each value, one more for the elements of an array
/// or map and for the bytes of a binary, two more for the bytes of a string or extension.
const MAX_STEPS: usize = 1024;

/// Decodes msgpack bytes as a value of type `ty`.
pub fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, CodecError> {
    // Count the values before building any: the tree must stay within a multiple of the input.
    // The walk also measures the value, and proves every declared length is backed by bytes.
    let len =
        super::budget::check(bytes, super::budget::element_budget(bytes.len())).map_err(invalid)?;
    if len != bytes.len() {
        return Err(CodecError::new(
            &AttributePath::root(),
            "trailing bytes after the msgpack value",
        ));
    }
    Reader::new(bytes).value(ty, &PathTrail::Root)
}

/// Encodes `value` (which must conform to `ty`) as msgpack bytes.
pub fn encode(ty: &Type, value: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(estimated_len(ty));
    write_value(&mut out, ty, value, &PathTrail::Root)?;
    Ok(out)
}

fn error(trail: &PathTrail<'_>, message: impl Into<String>) -> CodecError {
    CodecError::new(&trail.to_path(), message)
}

fn invalid(e: impl Display) -> CodecError {
    CodecError::new(&AttributePath::root(), format!("invalid msgpack: {e}"))
}

fn too_deep() -> CodecError {
    invalid("depth limit exceeded")
}
