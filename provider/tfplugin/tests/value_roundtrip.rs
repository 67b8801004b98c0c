//! Property tests: arbitrary nested types and values survive the msgpack and JSON codecs, and
//! type JSON survives parsing.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tfplugin::codec::{json, msgpack};
use tfplugin::{Number, Type, Value};

fn attribute_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}"
}

/// Types without `dynamic` (for the concrete type inside a dynamic value).
fn concrete_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map(attribute_name(), inner.clone(), 0..4).prop_map(|attrs| {
                Type::Object {
                    attributes: attrs,
                    optional: BTreeSet::new(),
                }
            }),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

/// Any type, `dynamic` included (also nested).
fn any_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic)
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map(attribute_name(), inner.clone(), 0..4).prop_map(|attrs| {
                Type::Object {
                    attributes: attrs,
                    optional: BTreeSet::new(),
                }
            }),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        (-1e12f64..1e12f64)
            .prop_filter("non-integral", |f| f.fract() != 0.0)
            .prop_map(Number::Float),
        "[1-9][0-9]{20,30}\\.[0-9]{1,5}".prop_map(Number::Decimal),
    ]
}

/// A value of type `ty`; `with_unknown` allows unknown values anywhere.
fn value_of(ty: Type, with_unknown: bool) -> BoxedStrategy<Value> {
    let known = known_value_of(ty, with_unknown);
    if with_unknown {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn known_value_of(ty: Type, with_unknown: bool) -> BoxedStrategy<Value> {
    match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => number().prop_map(Value::Number).boxed(),
        Type::String => ".{0,8}".prop_map(Value::String).boxed(),
        Type::Dynamic => concrete_type()
            .prop_flat_map(move |t| {
                known_value_of(t.clone(), with_unknown)
                    .prop_map(move |v| Value::Dynamic(t.clone(), Box::new(v)))
            })
            .boxed(),
        Type::List(t) => prop::collection::vec(value_of(*t, with_unknown), 0..3)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(t) => prop::collection::vec(value_of(*t, with_unknown), 0..3)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(t) => prop::collection::btree_map(".{0,5}", value_of(*t, with_unknown), 0..3)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object { attributes, .. } => {
            let fields: Vec<(String, BoxedStrategy<Value>)> = attributes
                .into_iter()
                .map(|(k, t)| (k, value_of(t, with_unknown)))
                .collect();
            let (names, strategies): (Vec<String>, Vec<BoxedStrategy<Value>>) =
                fields.into_iter().unzip();
            strategies
                .prop_map(move |values| {
                    Value::Object(
                        names
                            .iter()
                            .cloned()
                            .zip(values)
                            .collect::<BTreeMap<_, _>>(),
                    )
                })
                .boxed()
        }
        Type::Tuple(ts) => {
            let strategies: Vec<BoxedStrategy<Value>> =
                ts.into_iter().map(|t| value_of(t, with_unknown)).collect();
            strategies.prop_map(Value::Tuple).boxed()
        }
    }
}

fn typed_value(with_unknown: bool) -> impl Strategy<Value = (Type, Value)> {
    any_type()
        .prop_flat_map(move |t| value_of(t.clone(), with_unknown).prop_map(move |v| (t.clone(), v)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn msgpack_round_trips_any_value_including_unknowns((ty, value) in typed_value(true)) {
        let bytes = msgpack::encode(&ty, &value).unwrap();
        let back = msgpack::decode(&ty, &bytes).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn json_round_trips_known_values((ty, value) in typed_value(false)) {
        let encoded = json::encode(&ty, &value).unwrap();
        let pretty = serde_json::to_vec_pretty(&encoded).unwrap();
        let (back, dropped) = json::decode_bytes(&ty, &pretty, json::UnknownAttributes::Reject).unwrap();
        prop_assert!(dropped.is_empty());
        prop_assert_eq!(back, value);
    }

    #[test]
    fn type_json_round_trips(ty in any_type()) {
        let parsed = Type::from_json_bytes(&ty.to_json_bytes()).unwrap();
        prop_assert_eq!(parsed, ty);
    }

    #[test]
    fn conform_is_idempotent_on_decoded_values((ty, value) in typed_value(true)) {
        let once = value.clone().conform(&ty).unwrap();
        prop_assert_eq!(once.clone().conform(&ty).unwrap(), once);
    }

    #[test]
    fn truncated_msgpack_is_an_error_not_a_panic((ty, value) in typed_value(true), cut in 0usize..64) {
        let bytes = msgpack::encode(&ty, &value).unwrap();
        if cut < bytes.len() {
            let _ = msgpack::decode(&ty, &bytes[..cut]);
        }
    }
}
