//! [`Value`] to msgpack, written straight into a buffer, guided by the type.

use std::collections::BTreeMap;
use std::fmt::Display;

use super::super::CodecError;
use super::error;
use crate::path::{AttributePath, PathTrail};
use crate::types::Type;
use crate::value::{Number, Value};

/// A first guess at the size of a value of type `ty` (an object: its attribute names and a few
/// bytes of value each; a release's state is ~45 bytes per top-level attribute, nested blocks
/// included), so that encoding a state rarely grows the buffer more than once.
pub(super) fn estimated_len(ty: &Type) -> usize {
    match ty {
        Type::Object { attributes, .. } => 48 * attributes.len() + 16,
        _ => 16,
    }
}

/// The msgpack Terraform writes for an unknown value: extension 0 of one zero byte.
fn write_unknown(out: &mut Vec<u8>) -> Result<(), CodecError> {
    written(rmp::encode::write_ext_meta(out, 1, 0))?;
    out.push(0);
    Ok(())
}

/// Null as nil, unknown as [`write_unknown`]: what a `dynamic` without a concrete type holds.
fn write_dynamic_leaf(out: &mut Vec<u8>, value: &Value) -> Result<(), CodecError> {
    if value.is_unknown() {
        write_unknown(out)
    } else {
        written(rmp::encode::write_nil(out))
    }
}

/// A failed write into memory (which does not happen) as a codec error.
fn written<T, E: Display>(result: Result<T, E>) -> Result<(), CodecError> {
    result
        .map(|_| ())
        .map_err(|e| CodecError::new(&AttributePath::root(), format!("msgpack write: {e}")))
}

/// A length as msgpack writes it (32 bits).
fn length(n: usize) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| {
        CodecError::new(
            &AttributePath::root(),
            format!("msgpack write: {n} elements are more than msgpack can count"),
        )
    })
}

pub(super) fn write_value(
    out: &mut Vec<u8>,
    ty: &Type,
    value: &Value,
    trail: &PathTrail<'_>,
) -> Result<(), CodecError> {
    match (ty, value) {
        (Type::Dynamic, Value::Null | Value::Unknown) => write_dynamic_leaf(out, value),
        (Type::Dynamic, Value::Dynamic(concrete, inner)) => {
            if concrete == &Type::Dynamic {
                return write_dynamic_leaf(out, inner);
            }
            write_typed(out, concrete, inner, trail)
        }
        (Type::Dynamic, v) => write_typed(out, &v.infer_type(), v, trail),
        (_, Value::Null) => written(rmp::encode::write_nil(out)),
        (_, Value::Unknown) => write_unknown(out),
        (_, Value::Dynamic(_, inner)) => write_value(out, ty, inner, trail),
        (Type::Bool, Value::Bool(b)) => written(rmp::encode::write_bool(out, *b)),
        (Type::Number, Value::Number(n)) => write_number(out, n),
        (Type::String, Value::String(s)) => written(rmp::encode::write_str(out, s)),
        (Type::List(et) | Type::Set(et), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            written(rmp::encode::write_array_len(out, length(vs.len())?))?;
            let indexed = matches!(ty, Type::List(_));
            for (i, v) in vs.iter().enumerate() {
                if indexed {
                    write_value(out, et, v, &trail.index(i))?;
                } else {
                    write_value(out, et, v, trail)?;
                }
            }
            Ok(())
        }
        (Type::Tuple(ts), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            if ts.len() != vs.len() {
                return Err(cannot_encode(ty, value, trail));
            }
            written(rmp::encode::write_array_len(out, length(vs.len())?))?;
            for (i, (t, v)) in ts.iter().zip(vs).enumerate() {
                write_value(out, t, v, &trail.index(i))?;
            }
            Ok(())
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => {
            written(rmp::encode::write_map_len(out, length(m.len())?))?;
            for (k, v) in m {
                written(rmp::encode::write_str(out, k))?;
                write_value(out, et, v, &trail.key(k))?;
            }
            Ok(())
        }
        (Type::Object { attributes, .. }, Value::Object(m) | Value::Map(m)) => {
            write_object(out, attributes, m, trail)
        }
        _ => Err(cannot_encode(ty, value, trail)),
    }
}

fn cannot_encode(ty: &Type, value: &Value, trail: &PathTrail<'_>) -> CodecError {
    error(
        trail,
        format!("cannot encode {} as {ty}", crate::value::kind(value)),
    )
}

/// A `dynamic` value of a concrete type: `[type JSON (binary), value]`.
fn write_typed(
    out: &mut Vec<u8>,
    concrete: &Type,
    value: &Value,
    trail: &PathTrail<'_>,
) -> Result<(), CodecError> {
    written(rmp::encode::write_array_len(out, 2))?;
    written(rmp::encode::write_bin(out, &concrete.to_json_bytes()))?;
    write_value(out, concrete, value, trail)
}

/// Integers as the smallest msgpack integer, floats as f64, other decimals as strings.
fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), CodecError> {
    match n {
        Number::Int(i) => written(rmp::encode::write_sint(out, *i)),
        Number::Float(f) => written(rmp::encode::write_f64(out, *f)),
        Number::Decimal(s) => written(rmp::encode::write_str(out, s)),
    }
}

/// Every attribute of the type, in the type's order (Terraform rejects objects that lack one);
/// an attribute the type does not have is an error.
fn write_object(
    out: &mut Vec<u8>,
    attributes: &BTreeMap<String, Type>,
    m: &BTreeMap<String, Value>,
    trail: &PathTrail<'_>,
) -> Result<(), CodecError> {
    // Both maps are sorted: one walk over the type's names finds the first key it lacks.
    let mut names = attributes.keys();
    if let Some(extra) = m.keys().find(|k| !names.any(|name| name == *k)) {
        return Err(error(
            &trail.attr(extra),
            format!("attribute {extra:?} is not in the type"),
        ));
    }
    written(rmp::encode::write_map_len(out, length(attributes.len())?))?;
    // Every key of `m` is a name of the type: walking both in order pairs them up.
    let mut values = m.iter().peekable();
    for (name, at) in attributes {
        let value = match values.next_if(|(k, _)| *k == name) {
            Some((_, v)) => v,
            None => &Value::Null,
        };
        written(rmp::encode::write_str(out, name))?;
        write_value(out, at, value, &trail.attr(name))?;
    }
    Ok(())
}
