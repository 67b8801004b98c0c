//! JSON, the encoding of stored state (`RawState.json`, possibly pretty-printed) and of
//! `DynamicValue.json`.
//!
//! A `dynamic` value is `{"value": …, "type": …}`. JSON cannot express unknown values.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::CodecError;
use crate::path::AttributePath;
use crate::types::Type;
use crate::value::{Number, Value};

/// What to do with object attributes that the type does not have (e.g. state written by an
/// older provider version whose schema had more attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownAttributes {
    Reject,
    /// Drop them; their names are returned so the caller can log them.
    Drop,
}

/// Decodes JSON as a value of type `ty`. Returns the value and the paths of dropped attributes.
pub fn decode(
    ty: &Type,
    json: &Json,
    unknown_attributes: UnknownAttributes,
) -> Result<(Value, Vec<AttributePath>), CodecError> {
    let mut dropped = Vec::new();
    let v = from_json(
        ty,
        json,
        &AttributePath::root(),
        unknown_attributes,
        &mut dropped,
    )?;
    Ok((v, dropped))
}

/// Decodes JSON bytes (compact or pretty-printed).
pub fn decode_bytes(
    ty: &Type,
    bytes: &[u8],
    unknown_attributes: UnknownAttributes,
) -> Result<(Value, Vec<AttributePath>), CodecError> {
    decode(ty, &parse(bytes)?, unknown_attributes)
}

/// Parses JSON bytes (for callers that also need the JSON itself, e.g. to see which keys a
/// stored state mentions).
pub fn parse(bytes: &[u8]) -> Result<Json, CodecError> {
    serde_json::from_slice(bytes)
        .map_err(|e| CodecError::new(&AttributePath::root(), format!("invalid JSON: {e}")))
}

/// Encodes a wholly known value as JSON.
pub fn encode(ty: &Type, value: &Value) -> Result<Json, CodecError> {
    to_json(ty, value, &AttributePath::root())
}

fn from_json(
    ty: &Type,
    json: &Json,
    path: &AttributePath,
    unknown: UnknownAttributes,
    dropped: &mut Vec<AttributePath>,
) -> Result<Value, CodecError> {
    let wrong = || CodecError::new(path, format!("expected {ty}, got JSON {json}"));
    match (ty, json) {
        (_, Json::Null) => Ok(Value::Null),
        (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Number, Json::Number(n)) => Ok(Value::Number(if let Some(i) = n.as_i64() {
            Number::Int(i)
        } else if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
            Number::from_f64(f)
        } else {
            Number::Decimal(n.to_string())
        })),
        (Type::Number, Json::String(s)) => Ok(Value::Number(Number::from_decimal(s))),
        (Type::String, Json::String(s)) => Ok(Value::String(s.clone())),
        (Type::String, Json::Number(n)) => Ok(Value::String(n.to_string())),
        (Type::String, Json::Bool(b)) => Ok(Value::String(b.to_string())),
        (Type::List(et) | Type::Set(et), Json::Array(items)) => {
            let indexed = matches!(ty, Type::List(_));
            let vs = items
                .iter()
                .enumerate()
                .map(|(i, j)| {
                    let p = if indexed { path.index(i) } else { path.clone() };
                    from_json(et, j, &p, unknown, dropped)
                })
                .collect::<Result<_, _>>()?;
            Ok(if indexed {
                Value::List(vs)
            } else {
                Value::Set(vs)
            })
        }
        (Type::Tuple(ts), Json::Array(items)) if ts.len() == items.len() => {
            let vs = ts
                .iter()
                .zip(items)
                .enumerate()
                .map(|(i, (t, j))| from_json(t, j, &path.index(i), unknown, dropped))
                .collect::<Result<_, _>>()?;
            Ok(Value::Tuple(vs))
        }
        (Type::Map(et), Json::Object(entries)) => {
            let m = entries
                .iter()
                .map(|(k, j)| Ok((k.clone(), from_json(et, j, &path.key(k), unknown, dropped)?)))
                .collect::<Result<_, CodecError>>()?;
            Ok(Value::Map(m))
        }
        (Type::Object { attributes, .. }, Json::Object(entries)) => {
            let mut out = BTreeMap::new();
            for (k, j) in entries {
                match attributes.get(k) {
                    Some(at) => {
                        out.insert(
                            k.clone(),
                            from_json(at, j, &path.attr(k), unknown, dropped)?,
                        );
                    }
                    None if unknown == UnknownAttributes::Drop => dropped.push(path.attr(k)),
                    None => {
                        return Err(CodecError::new(
                            &path.attr(k),
                            format!("unsupported attribute {k:?}"),
                        ));
                    }
                }
            }
            for name in attributes.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
        (Type::Dynamic, Json::Object(entries)) => {
            let (Some(type_json), Some(value_json)) = (entries.get("type"), entries.get("value"))
            else {
                return Err(CodecError::new(
                    path,
                    "dynamic value needs \"type\" and \"value\"",
                ));
            };
            let concrete =
                Type::from_json(type_json).map_err(|e| CodecError::new(path, e.to_string()))?;
            let value = from_json(&concrete, value_json, path, unknown, dropped)?;
            Ok(Value::Dynamic(concrete, Box::new(value)))
        }
        _ => Err(wrong()),
    }
}

fn to_json(ty: &Type, value: &Value, path: &AttributePath) -> Result<Json, CodecError> {
    let wrong = || {
        CodecError::new(
            path,
            format!("cannot encode {} as JSON {ty}", crate::value::kind(value)),
        )
    };
    match (ty, value) {
        (_, Value::Unknown) => Err(CodecError::new(path, "unknown values have no JSON form")),
        (_, Value::Null) => Ok(Json::Null),
        (Type::Dynamic, v) => {
            let (concrete, inner) = match v {
                Value::Dynamic(t, inner) => (t.clone(), inner.as_ref()),
                other => (other.infer_type(), other),
            };
            Ok(json!({"value": to_json(&concrete, inner, path)?, "type": concrete.to_json()}))
        }
        (_, Value::Dynamic(_, inner)) => to_json(ty, inner, path),
        (Type::Bool, Value::Bool(b)) => Ok(Json::Bool(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => json!(i),
            Number::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Number::Decimal(s) => Json::String(s.clone()),
        }),
        (Type::String, Value::String(s)) => Ok(Json::String(s.clone())),
        (Type::List(et) | Type::Set(et), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            let indexed = matches!(ty, Type::List(_));
            Ok(Json::Array(
                vs.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        to_json(et, v, &if indexed { path.index(i) } else { path.clone() })
                    })
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Type::Tuple(ts), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs))
            if ts.len() == vs.len() =>
        {
            Ok(Json::Array(
                ts.iter()
                    .zip(vs)
                    .enumerate()
                    .map(|(i, (t, v))| to_json(t, v, &path.index(i)))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => Ok(Json::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(et, v, &path.key(k))?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (Type::Object { attributes, .. }, Value::Object(m) | Value::Map(m)) => Ok(Json::Object(
            attributes
                .iter()
                .map(|(k, t)| {
                    let v = m.get(k).unwrap_or(&Value::Null);
                    Ok((k.clone(), to_json(t, v, &path.attr(k))?))
                })
                .collect::<Result<_, CodecError>>()?,
        )),
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty() -> Type {
        Type::object([
            ("name", Type::String),
            ("replicas", Type::Number),
            ("tags", Type::set(Type::String)),
        ])
    }

    #[test]
    fn pretty_printed_state_decodes_and_missing_attributes_become_null() {
        let state = b"{\n  \"name\": \"runner\",\n  \"tags\": [\"a\"]\n}\n";
        let (v, dropped) = decode_bytes(&ty(), state, UnknownAttributes::Reject).unwrap();
        assert!(dropped.is_empty());
        assert_eq!(
            v,
            Value::object([
                ("name", Value::from("runner")),
                ("replicas", Value::Null),
                ("tags", Value::Set(vec!["a".into()])),
            ])
        );
    }

    #[test]
    fn attributes_no_longer_in_the_schema_are_dropped_and_reported() {
        let state = br#"{"name":"x","replicas":2,"tags":null,"old_field":{"deep":1}}"#;
        assert!(decode_bytes(&ty(), state, UnknownAttributes::Reject).is_err());
        let (v, dropped) = decode_bytes(&ty(), state, UnknownAttributes::Drop).unwrap();
        assert_eq!(dropped, vec![AttributePath::new("old_field")]);
        assert_eq!(v.attr("replicas"), Some(&Value::from(2_i64)));
    }

    #[test]
    fn dynamic_json_carries_value_and_type() {
        let v = Value::Dynamic(Type::Bool, Box::new(Value::Bool(true)));
        let j = encode(&Type::Dynamic, &v).unwrap();
        assert_eq!(j, json!({"value": true, "type": "bool"}));
        let (back, _) = decode(&Type::Dynamic, &j, UnknownAttributes::Reject).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn unknown_values_cannot_be_written_as_json() {
        assert!(encode(&Type::String, &Value::Unknown).is_err());
    }
}
