//! The msgpack codec's tests; the `rmpv` codec it replaced is kept here as the oracle.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::*;
use crate::value::Number;

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

/// The codec as it was before it walked the bytes directly: through an `rmpv::Value` tree,
/// with an `AttributePath` per node. Kept, for tests only, as the oracle the direct codec
/// must agree with, byte for byte and error for error.
mod rmpv_oracle {
    use std::collections::BTreeMap;

    use rmpv::Value as Mp;

    use super::super::super::CodecError;
    use crate::path::AttributePath;
    use crate::types::Type;
    use crate::value::{Number, Value};

    pub fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, CodecError> {
        let root = AttributePath::root();
        super::super::super::budget::check(
            bytes,
            super::super::super::budget::element_budget(bytes.len()),
        )
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

    pub fn encode(ty: &Type, value: &Value) -> Result<Vec<u8>, CodecError> {
        let mp = to_msgpack(ty, value, &AttributePath::root())?;
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &mp)
            .map_err(|e| CodecError::new(&AttributePath::root(), format!("msgpack write: {e}")))?;
        Ok(out)
    }

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
            (
                Type::List(et) | Type::Set(et),
                Value::List(vs) | Value::Set(vs) | Value::Tuple(vs),
            ) => {
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
}

fn mp_bytes(mp: &Mp) -> Vec<u8> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, mp).unwrap();
    bytes
}

/// An object with nested blocks, every collection kind, `dynamic` values, numbers in every
/// form, nulls, unknowns and an attribute left out.
fn rich_type() -> Type {
    let runner = Type::object([
        ("tags", Type::list(Type::String)),
        ("labels", Type::map(Type::String)),
        ("limits", Type::map(Type::Number)),
        ("paused", Type::Bool),
    ]);
    Type::object([
        ("name", Type::String),
        ("count", Type::Number),
        ("enabled", Type::Bool),
        ("runner", Type::list(runner)),
        ("ports", Type::set(Type::Number)),
        (
            "pair",
            Type::tuple([Type::String, Type::Number, Type::Bool]),
        ),
        ("extra", Type::Dynamic),
        ("extras", Type::list(Type::Dynamic)),
        ("missing", Type::String),
        ("pending", Type::map(Type::String)),
    ])
}

fn rich_value() -> Value {
    let runner = |tags: &[&str], paused: Value| {
        Value::object([
            (
                "tags",
                Value::List(tags.iter().map(|t| Value::from(*t)).collect()),
            ),
            (
                "labels",
                Value::Map(BTreeMap::from([
                    ("app".to_owned(), Value::from("runner")),
                    ("tier".to_owned(), Value::Unknown),
                ])),
            ),
            (
                "limits",
                Value::Map(BTreeMap::from([
                    ("cpu".to_owned(), Value::from(1.5)),
                    (
                        "big".to_owned(),
                        Value::Number(Number::Decimal("1e400".into())),
                    ),
                    (
                        "huge".to_owned(),
                        Value::Number(Number::Decimal(u64::MAX.to_string())),
                    ),
                    ("neg".to_owned(), Value::from(-40_000_i64)),
                    ("min".to_owned(), Value::from(i64::MIN)),
                    ("max".to_owned(), Value::from(i64::MAX)),
                ])),
            ),
            ("paused", paused),
        ])
    };
    Value::object([
        ("name", Value::from("ü-runner ".repeat(5))),
        ("count", Value::from(300_i64)),
        ("enabled", Value::from(true)),
        (
            "runner",
            Value::List(vec![
                runner(
                    &["docker", "linux", "x".repeat(40).as_str()],
                    Value::from(false),
                ),
                runner(&[], Value::Null),
                Value::Unknown,
            ]),
        ),
        (
            "ports",
            Value::Set(vec![Value::from(80_i64), Value::from(70_000_i64)]),
        ),
        (
            "pair",
            Value::Tuple(vec![Value::from("a"), Value::from(-1_i64), Value::Unknown]),
        ),
        (
            "extra",
            Value::Dynamic(
                Type::list(Type::map(Type::Number)),
                Box::new(Value::List(vec![Value::Map(BTreeMap::from([(
                    "k".to_owned(),
                    Value::from(2_i64),
                )]))])),
            ),
        ),
        (
            "extras",
            Value::List(vec![
                Value::from("inferred"),
                Value::Null,
                Value::Unknown,
                Value::Dynamic(Type::Dynamic, Box::new(Value::Unknown)),
                Value::Dynamic(
                    Type::object([("x", Type::Bool)]),
                    Box::new(Value::object([("x", Value::from(true))])),
                ),
            ]),
        ),
        ("pending", Value::Unknown),
    ])
}

#[test]
fn the_direct_codec_writes_and_reads_what_the_rmpv_codec_did() {
    let ty = rich_type();
    let value = rich_value();
    let bytes = encode(&ty, &value).unwrap();
    assert_eq!(bytes, rmpv_oracle::encode(&ty, &value).unwrap());
    let decoded = decode(&ty, &bytes).unwrap();
    assert_eq!(decoded, rmpv_oracle::decode(&ty, &bytes).unwrap());
    // What was written reads back as the same bytes (the value may differ in form: an
    // inferred `dynamic` comes back wrapped with its type).
    assert_eq!(encode(&ty, &decoded).unwrap(), bytes);
    let Value::Object(attributes) = &decoded else {
        panic!("not an object")
    };
    assert_eq!(attributes["missing"], Value::Null);
    assert_eq!(attributes["pending"], Value::Unknown);

    let (ty, value) = release_state();
    let bytes = encode(&ty, &value).unwrap();
    assert_eq!(bytes, rmpv_oracle::encode(&ty, &value).unwrap());
    assert_eq!(decode(&ty, &bytes).unwrap(), value);
}

#[test]
fn terraform_forms_decode_as_with_the_rmpv_decoder() {
    let ty = rich_type();
    let limits = Mp::Map(vec![
        (Mp::from("f32"), Mp::F32(2.5)),
        (Mp::from("f64"), Mp::F64(3.0)),
        (Mp::from("str"), Mp::from("12")),
        (Mp::from("u64"), Mp::from(u64::MAX - 1)),
        (Mp::from("neg"), Mp::from(-5_i64)),
        (Mp::from("neg"), Mp::from(-6_i64)),
    ]);
    let runner = Mp::Map(vec![
        // Keys out of the type's order, and one repeated.
        (Mp::from("paused"), Mp::Boolean(true)),
        (Mp::from("limits"), limits),
        (Mp::from("tags"), Mp::Array(vec![Mp::from("a"), Mp::Nil])),
        (Mp::from("paused"), Mp::Ext(12, vec![0x81, 0x01, 0xc3])),
    ]);
    let message = Mp::Map(vec![
        (Mp::from("runner"), Mp::Array(vec![runner])),
        (
            "extra".into(),
            Mp::Array(vec![Mp::from(r#""number""#), Mp::from(7)]),
        ),
        (
            "extras".into(),
            Mp::Array(vec![Mp::Array(vec![
                Mp::Binary(br#"["tuple",["string","dynamic"]]"#.to_vec()),
                Mp::Array(vec![
                    Mp::from("s"),
                    Mp::Array(vec![Mp::Binary(b"\"bool\"".to_vec()), Mp::Boolean(false)]),
                ]),
            ])]),
        ),
        ("count".into(), Mp::Ext(0, vec![0; 20])),
        ("ports".into(), Mp::Array(vec![Mp::from(1), Mp::from(1)])),
    ]);
    let bytes = mp_bytes(&message);
    let decoded = decode(&ty, &bytes).unwrap();
    assert_eq!(decoded, rmpv_oracle::decode(&ty, &bytes).unwrap());
    let Value::Object(attributes) = &decoded else {
        panic!("not an object")
    };
    assert_eq!(attributes["count"], Value::Unknown);
}

#[test]
fn every_single_byte_change_decodes_as_with_the_rmpv_decoder() {
    let ty = rich_type();
    let bytes = encode(&ty, &rich_value()).unwrap();
    let replacements = [
        0x00, 0x01, 0x05, 0x7f, 0x80, 0x81, 0x90, 0x91, 0xa0, 0xa1, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4,
        0xca, 0xcb, 0xcf, 0xd0, 0xd4, 0xd9, 0xdc, 0xde, 0xe0, 0xff,
    ];
    let mut changed = bytes.clone();
    for at in 0..bytes.len() {
        for byte in replacements.iter().copied().chain([bytes[at] ^ 0x01]) {
            changed[at] = byte;
            // Compared as text: a changed byte can make a NaN, which is not equal to itself.
            assert_eq!(
                format!("{:?}", decode(&ty, &changed)),
                format!("{:?}", rmpv_oracle::decode(&ty, &changed)),
                "byte {at} set to {byte:#04x}"
            );
        }
        changed[at] = bytes[at];
    }
}

#[test]
fn a_message_cut_short_anywhere_is_an_error() {
    let ty = rich_type();
    let bytes = encode(&ty, &rich_value()).unwrap();
    for end in 0..bytes.len() {
        let err = decode(&ty, &bytes[..end]).unwrap_err();
        assert!(
            err.message.contains("ends inside a value"),
            "at {end}: {err}"
        );
        assert_eq!(Err(err), rmpv_oracle::decode(&ty, &bytes[..end]));
    }
    // More than the value is also refused.
    let mut longer = bytes.clone();
    longer.push(0xc0);
    let err = decode(&ty, &longer).unwrap_err();
    assert_eq!(err.message, "trailing bytes after the msgpack value");
}

#[test]
fn a_wrong_type_deep_inside_is_reported_at_its_path() {
    let ty = rich_type();
    let runner = |tag: Mp| {
        Mp::Map(vec![(
            Mp::from("tags"),
            Mp::Array(vec![Mp::from("ok"), tag]),
        )])
    };
    let message = |tag: Mp| {
        mp_bytes(&Mp::Map(vec![(
            Mp::from("runner"),
            Mp::Array(vec![runner(tag)]),
        )]))
    };
    let bytes = message(Mp::Array(vec![
        Mp::from(5),
        Mp::Map(vec![(Mp::Nil, Mp::F64(0.5))]),
    ]));
    let err = decode(&ty, &bytes).unwrap_err();
    assert_eq!(err.path.to_string(), "runner[0].tags[1]");
    assert_eq!(
        err.message,
        r#"expected "string", got msgpack [5, {nil: 0.5}]"#
    );
    assert_eq!(Err(err), rmpv_oracle::decode(&ty, &bytes));

    let bytes = message(Mp::Binary(vec![0xff]));
    let err = decode(&ty, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"expected "string", got msgpack [255] (at runner[0].tags[1])"#
    );

    // Encoding names the path the same way.
    let bad = Value::object([(
        "runner",
        Value::List(vec![Value::object([(
            "tags",
            Value::List(vec![Value::from("ok"), Value::from(true)]),
        )])]),
    )]);
    let err = encode(&ty, &bad).unwrap_err();
    assert_eq!(err.path.to_string(), "runner[0].tags[1]");
    assert_eq!(Err(err), rmpv_oracle::encode(&ty, &bad));
    let extra = Value::object([(
        "runner",
        Value::List(vec![Value::object([("nope", Value::Null)])]),
    )]);
    let err = encode(&ty, &extra).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"attribute "nope" is not in the type (at runner[0].nope)"#
    );
    assert_eq!(Err(err), rmpv_oracle::encode(&ty, &extra));
}

/// `depth` arrays, one inside the other, around a nil.
fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x91; depth];
    bytes.push(0xc0);
    bytes
}

/// `depth` arrays, one inside the other, the innermost empty.
fn nested_empty_arrays(depth: usize) -> Vec<u8> {
    let mut bytes = vec![0x91; depth - 1];
    bytes.push(0x90);
    bytes
}

/// `depth` `dynamic` values of type `dynamic`, one inside the other, around a nil.
fn nested_dynamics(depth: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..depth {
        bytes.extend_from_slice(&[0x92, 0xa9]);
        bytes.extend_from_slice(br#""dynamic""#);
    }
    bytes.push(0xc0);
    bytes
}

/// Runs `f` on a thread with a stack for the deepest messages: unoptimised builds take a
/// few KiB of stack per level of nesting (an optimised one well under 1 KiB).
fn with_a_deep_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(32 * 1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn nesting_deeper_than_rmpv_allowed_is_refused_as_it_refused() {
    with_a_deep_stack(nesting_deeper_than_rmpv_allowed);
}

fn nesting_deeper_than_rmpv_allowed() {
    for depth in [510, 511, 512, 513, 5000] {
        for bytes in [nested_arrays(depth), nested_empty_arrays(depth)] {
            assert_eq!(
                decode(&Type::String, &bytes),
                rmpv_oracle::decode(&Type::String, &bytes),
                "depth {depth}"
            );
        }
        let bytes = nested_dynamics(depth);
        assert_eq!(
            decode(&Type::Dynamic, &bytes),
            rmpv_oracle::decode(&Type::Dynamic, &bytes),
            "dynamic depth {depth}"
        );
    }
    assert_eq!(
        decode(&Type::String, &nested_arrays(512))
            .unwrap_err()
            .message,
        "invalid msgpack: depth limit exceeded"
    );
    assert!(decode(&Type::Dynamic, &nested_dynamics(510)).is_ok());
    assert_eq!(
        decode(&Type::Dynamic, &nested_dynamics(511))
            .unwrap_err()
            .message,
        "invalid msgpack: depth limit exceeded"
    );
}

/// The state of a `gitlabrunner_release` as Terraform stores it (one release of the
/// refresh bench) and the resource's type (from `terraform providers schema -json`).
fn release_state() -> (Type, Value) {
    let ty = Type::from_json_bytes(include_bytes!("testdata/release_type.json")).unwrap();
    let (value, _) = super::super::json::decode_bytes(
        &ty,
        include_bytes!("testdata/release_state.json"),
        super::super::json::UnknownAttributes::Reject,
    )
    .unwrap();
    (ty, value)
}

/// Microseconds per call of `f`, the best of a few rounds.
fn per_call(runs: u32, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let began = std::time::Instant::now();
            for _ in 0..runs {
                f();
            }
            began.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
        })
        .fold(f64::INFINITY, f64::min)
}

/// `cargo test -p tfplugin --release --lib -- --ignored --nocapture msgpack_cost`
#[test]
#[ignore = "a measurement, not a check"]
fn msgpack_cost_of_a_release_state() {
    let (ty, value) = release_state();
    let bytes = encode(&ty, &value).unwrap();
    let runs = 5000;
    let decode_us = per_call(runs, || {
        std::hint::black_box(decode(&ty, std::hint::black_box(&bytes)).unwrap());
    });
    let encode_us = per_call(runs, || {
        std::hint::black_box(encode(&ty, std::hint::black_box(&value)).unwrap());
    });
    let rmpv_decode_us = per_call(runs, || {
        std::hint::black_box(rmpv_oracle::decode(&ty, std::hint::black_box(&bytes)).unwrap());
    });
    let rmpv_encode_us = per_call(runs, || {
        std::hint::black_box(rmpv_oracle::encode(&ty, std::hint::black_box(&value)).unwrap());
    });
    println!(
        "release state, {} bytes of msgpack: decode {decode_us:.1} us (rmpv: \
         {rmpv_decode_us:.1}), encode {encode_us:.1} us (rmpv: {rmpv_encode_us:.1})",
        bytes.len()
    );
}
