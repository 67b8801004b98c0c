//! msgpack, the encoding of `DynamicValue.msgpack`.
//!
//! null is msgpack nil; unknown is any extension (Terraform writes type 0, refined unknowns use
//! type 12); numbers arrive as integers, floats or decimal strings; a `dynamic` value is a
//! two-element array: the type JSON (bytes) and the value.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::CodecError;
use crate::path::AttributePath;
use crate::types::Type;
use crate::value::{Number, Value};

/// Decodes msgpack bytes as a value of type `ty`.
pub fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, CodecError> {
    let root = AttributePath::root();
    // Count the values before building any: the tree must stay within a multiple of the input.
    super::budget::check(bytes, super::budget::element_budget(bytes.len()))
        .map_err(|e| CodecError::new(&root, format!("invalid msgpack: {e}")))?;
    let mut reader = bytes;
    let mp = rmpv::decode::read_value(&mut reader)
        .map_err(|e| CodecError::new(&root, format!("invalid msgpack: {e}")))?;
    if !reader.is_empty() {
        return Err(CodecError::new(
            &root,
            "trailing bytes after the msgpack value",
        ));
    }
    from_msgpack(ty, mp, &root)
}

/// Encodes `value` (which must conform to `ty`) as msgpack bytes.
pub fn encode(ty: &Type, value: &Value) -> Result<Vec<u8>, CodecError> {
    let mp = to_msgpack(ty, value, &AttributePath::root())?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp)
        .map_err(|e| CodecError::new(&AttributePath::root(), format!("msgpack write: {e}")))?;
    Ok(out)
}

/// The msgpack Terraform writes for an unknown value.
fn unknown() -> Mp {
    Mp::Ext(0, vec![0])
}

fn from_msgpack(ty: &Type, mp: Mp, path: &AttributePath) -> Result<Value, CodecError> {
    let wrong = |mp: &Mp| CodecError::new(path, format!("expected {ty}, got msgpack {mp}"));
    match (ty, mp) {
        (_, Mp::Nil) => Ok(Value::Null),
        (_, Mp::Ext(..)) => Ok(Value::Unknown),
        (Type::Bool, Mp::Boolean(b)) => Ok(Value::Bool(b)),
        (Type::Number, Mp::Integer(i)) => Ok(Value::Number(match i.as_i64() {
            Some(i) => Number::Int(i),
            None => Number::Decimal(i.to_string()),
        })),
        (Type::Number, Mp::F64(f)) => Ok(Value::Number(Number::from_f64(f))),
        (Type::Number, Mp::F32(f)) => Ok(Value::Number(Number::from_f64(f64::from(f)))),
        (Type::Number, Mp::String(s)) => {
            let s = s
                .into_str()
                .ok_or_else(|| CodecError::new(path, "number is not UTF-8"))?;
            Ok(Value::Number(Number::from_decimal(&s)))
        }
        (Type::String, Mp::String(s)) => {
            Ok(Value::String(s.into_str().ok_or_else(|| {
                CodecError::new(path, "string is not UTF-8")
            })?))
        }
        (Type::List(et), Mp::Array(items)) => Ok(Value::List(elements(et, items, path, true)?)),
        (Type::Set(et), Mp::Array(items)) => Ok(Value::Set(elements(et, items, path, false)?)),
        (Type::Tuple(ts), Mp::Array(items)) => {
            if ts.len() != items.len() {
                return Err(CodecError::new(
                    path,
                    format!("expected {} tuple elements, got {}", ts.len(), items.len()),
                ));
            }
            let vs = items
                .into_iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (mp, t))| from_msgpack(t, mp, &path.index(i)))
                .collect::<Result<_, _>>()?;
            Ok(Value::Tuple(vs))
        }
        (Type::Map(et), Mp::Map(entries)) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let key = map_key(k, path)?;
                let value = from_msgpack(et, v, &path.key(&key))?;
                out.insert(key, value);
            }
            Ok(Value::Map(out))
        }
        (Type::Object { attributes, .. }, Mp::Map(entries)) => {
            let mut out: BTreeMap<String, Value> = BTreeMap::new();
            for (k, v) in entries {
                let key = map_key(k, path)?;
                let Some(at) = attributes.get(&key) else {
                    return Err(CodecError::new(
                        &path.attr(&key),
                        format!("unsupported attribute {key:?}"),
                    ));
                };
                let value = from_msgpack(at, v, &path.attr(&key))?;
                out.insert(key, value);
            }
            for name in attributes.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
        (Type::Dynamic, Mp::Array(mut parts)) if parts.len() == 2 => {
            let inner = parts.pop().unwrap_or(Mp::Nil);
            let type_json = match parts.pop() {
                Some(Mp::Binary(b)) => b,
                Some(Mp::String(s)) => s.into_bytes(),
                _ => return Err(CodecError::new(path, "dynamic value without type JSON")),
            };
            let concrete = Type::from_json_bytes(&type_json)
                .map_err(|e| CodecError::new(path, e.to_string()))?;
            let value = from_msgpack(&concrete, inner, path)?;
            Ok(Value::Dynamic(concrete, Box::new(value)))
        }
        (_, mp) => Err(wrong(&mp)),
    }
}

fn elements(
    et: &Type,
    items: Vec<Mp>,
    path: &AttributePath,
    indexed: bool,
) -> Result<Vec<Value>, CodecError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, mp)| {
            let p = if indexed { path.index(i) } else { path.clone() };
            from_msgpack(et, mp, &p)
        })
        .collect()
}

fn map_key(key: Mp, path: &AttributePath) -> Result<String, CodecError> {
    match key {
        Mp::String(s) => s
            .into_str()
            .ok_or_else(|| CodecError::new(path, "map key is not UTF-8")),
        other => Err(CodecError::new(
            path,
            format!("map key is not a string: {other}"),
        )),
    }
}

fn to_msgpack(ty: &Type, value: &Value, path: &AttributePath) -> Result<Mp, CodecError> {
    let wrong = || {
        CodecError::new(
            path,
            format!("cannot encode {} as {ty}", crate::value::kind(value)),
        )
    };
    match (ty, value) {
        (Type::Dynamic, Value::Null | Value::Unknown) => Ok(dynamic_leaf(value)),
        (Type::Dynamic, Value::Dynamic(concrete, inner)) => {
            if concrete == &Type::Dynamic {
                return Ok(dynamic_leaf(inner));
            }
            Ok(Mp::Array(vec![
                Mp::Binary(concrete.to_json_bytes()),
                to_msgpack(concrete, inner, path)?,
            ]))
        }
        (Type::Dynamic, v) => {
            let concrete = v.infer_type();
            Ok(Mp::Array(vec![
                Mp::Binary(concrete.to_json_bytes()),
                to_msgpack(&concrete, v, path)?,
            ]))
        }
        (_, Value::Null) => Ok(Mp::Nil),
        (_, Value::Unknown) => Ok(unknown()),
        (_, Value::Dynamic(_, inner)) => to_msgpack(ty, inner, path),
        (Type::Bool, Value::Bool(b)) => Ok(Mp::Boolean(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => Mp::from(*i),
            Number::Float(f) => Mp::F64(*f),
            Number::Decimal(s) => Mp::from(s.as_str()),
        }),
        (Type::String, Value::String(s)) => Ok(Mp::from(s.as_str())),
        (Type::List(et) | Type::Set(et), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            let indexed = matches!(ty, Type::List(_));
            let items = vs
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = if indexed { path.index(i) } else { path.clone() };
                    to_msgpack(et, v, &p)
                })
                .collect::<Result<_, _>>()?;
            Ok(Mp::Array(items))
        }
        (Type::Tuple(ts), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            if ts.len() != vs.len() {
                return Err(wrong());
            }
            let items = ts
                .iter()
                .zip(vs)
                .enumerate()
                .map(|(i, (t, v))| to_msgpack(t, v, &path.index(i)))
                .collect::<Result<_, _>>()?;
            Ok(Mp::Array(items))
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => {
            let entries = m
                .iter()
                .map(|(k, v)| Ok((Mp::from(k.as_str()), to_msgpack(et, v, &path.key(k))?)))
                .collect::<Result<_, CodecError>>()?;
            Ok(Mp::Map(entries))
        }
        (Type::Object { attributes, .. }, Value::Object(m) | Value::Map(m)) => {
            if let Some(extra) = m.keys().find(|k| !attributes.contains_key(*k)) {
                return Err(CodecError::new(
                    &path.attr(extra),
                    format!("attribute {extra:?} is not in the type"),
                ));
            }
            // Terraform rejects objects that lack an attribute: every one is written.
            let entries = attributes
                .iter()
                .map(|(name, at)| {
                    let v = m.get(name).unwrap_or(&Value::Null);
                    Ok((
                        Mp::from(name.as_str()),
                        to_msgpack(at, v, &path.attr(name))?,
                    ))
                })
                .collect::<Result<_, CodecError>>()?;
            Ok(Mp::Map(entries))
        }
        _ => Err(wrong()),
    }
}

fn dynamic_leaf(value: &Value) -> Mp {
    if value.is_unknown() {
        unknown()
    } else {
        Mp::Nil
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_written_as_terraform_writes_it() {
        assert_eq!(
            encode(&Type::String, &Value::Unknown).unwrap(),
            vec![0xd4, 0, 0]
        );
        assert_eq!(encode(&Type::String, &Value::Null).unwrap(), vec![0xc0]);
    }

    #[test]
    fn refined_unknown_extension_twelve_decodes_as_unknown() {
        // fixext with type 12 carrying a small msgpack map (a refinement).
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Mp::Ext(12, vec![0x81, 0x01, 0xc3])).unwrap();
        assert_eq!(decode(&Type::String, &bytes).unwrap(), Value::Unknown);
    }

    #[test]
    fn numbers_decode_from_int_float_and_decimal_string() {
        let enc = |mp: Mp| {
            let mut b = Vec::new();
            rmpv::encode::write_value(&mut b, &mp).unwrap();
            b
        };
        assert_eq!(
            decode(&Type::Number, &enc(Mp::from(7))).unwrap(),
            Value::from(7_i64)
        );
        assert_eq!(
            decode(&Type::Number, &enc(Mp::F64(1.5))).unwrap(),
            Value::from(1.5)
        );
        assert_eq!(
            decode(&Type::Number, &enc(Mp::from("42"))).unwrap(),
            Value::from(42_i64)
        );
        assert_eq!(
            decode(&Type::Number, &enc(Mp::from("1e400"))).unwrap(),
            Value::Number(Number::Decimal("1e400".into()))
        );
        assert_eq!(
            decode(&Type::Number, &enc(Mp::from(u64::MAX))).unwrap(),
            Value::Number(Number::Decimal(u64::MAX.to_string()))
        );
    }

    #[test]
    fn objects_always_carry_every_attribute() {
        let ty = Type::object([("a", Type::String), ("b", Type::Bool)]);
        let bytes = encode(&ty, &Value::object([("a", Value::from("x"))])).unwrap();
        let Mp::Map(entries) = rmpv::decode::read_value(&mut &bytes[..]).unwrap() else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], (Mp::from("b"), Mp::Nil));
    }

    #[test]
    fn dynamic_values_carry_their_type_json() {
        let v = Value::Dynamic(
            Type::list(Type::String),
            Box::new(Value::List(vec!["a".into()])),
        );
        let bytes = encode(&Type::Dynamic, &v).unwrap();
        let mp = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert_eq!(
            mp,
            Mp::Array(vec![
                Mp::Binary(br#"["list","string"]"#.to_vec()),
                Mp::Array(vec![Mp::from("a")])
            ])
        );
        assert_eq!(decode(&Type::Dynamic, &bytes).unwrap(), v);
    }

    #[test]
    fn unexpected_attribute_is_an_error_with_its_path() {
        let ty = Type::object([("a", Type::String)]);
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Mp::Map(vec![(Mp::from("zz"), Mp::Nil)])).unwrap();
        let err = decode(&ty, &bytes).unwrap_err();
        assert_eq!(err.path.to_string(), "zz");
    }

    /// array32 header + `n` nils.
    fn nils(n: u32) -> Vec<u8> {
        let mut bytes = vec![0xdd];
        bytes.extend_from_slice(&n.to_be_bytes());
        bytes.resize(5 + n as usize, 0xc0);
        bytes
    }

    #[test]
    fn a_message_of_one_byte_values_beyond_the_budget_is_refused_before_decoding() {
        let ty = Type::list(Type::String);
        let fits = u32::try_from(super::super::budget::MIN_ELEMENTS - 1).unwrap();
        let Value::List(items) = decode(&ty, &nils(fits)).unwrap() else {
            panic!("not a list")
        };
        assert_eq!(items.len(), fits as usize);
        // 200 000 nils are 200 KB of msgpack, a budget of 65 536 values.
        let Err(err) = decode(&ty, &nils(200_000)) else {
            panic!("200 000 nils decoded")
        };
        assert!(err.message.contains("more than 65536 values"), "{err}");
        // A 4 G-element header with no elements behind it allocates nothing.
        let err = decode(&ty, &[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(err.message.contains("ends inside a value"), "{err}");
    }
}
