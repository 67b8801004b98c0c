//! Typed models: plain Rust structs (serde) read from and written to [`Value`]s.
//!
//! Field names are attribute names. Use [`TfValue<T>`] where an attribute may be null or unknown
//! (plan time), `Option<T>` where it may be null, and `T` where it is always set. Nested blocks
//! and nested attributes are structs, `Vec`s or `BTreeMap`s of structs.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use tfplugin::{TfValue, Value, model};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Release {
//!     name: String,
//!     replicas: Option<i64>,
//!     id: TfValue<String>,
//! }
//!
//! let v = Value::object([
//!     ("name", Value::from("runner")),
//!     ("replicas", Value::Null),
//!     ("id", Value::Unknown),
//! ]);
//! let r: Release = model::from_value(v).unwrap();
//! assert!(r.id.is_unknown());
//! assert_eq!(r.replicas, None);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned};
use serde::ser::{self, Serialize};

use crate::path::{AttributePath, PathTrail};
use crate::value::{Number, Value};

/// Name serde sees for [`TfValue`], so the value deserializer can hand over null and unknown.
const TF_VALUE: &str = "$tfplugin::TfValue";
/// Name of the unit struct [`TfValue::Unknown`] serializes to.
const UNKNOWN: &str = "$tfplugin::Unknown";

/// An attribute value that may be null or unknown (not yet known at plan time).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum TfValue<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> TfValue<T> {
    pub fn is_null(&self) -> bool {
        matches!(self, TfValue::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, TfValue::Unknown)
    }

    pub fn is_known(&self) -> bool {
        matches!(self, TfValue::Known(_))
    }

    /// The value when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            TfValue::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            TfValue::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> TfValue<&T> {
        match self {
            TfValue::Null => TfValue::Null,
            TfValue::Unknown => TfValue::Unknown,
            TfValue::Known(v) => TfValue::Known(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> TfValue<U> {
        match self {
            TfValue::Null => TfValue::Null,
            TfValue::Unknown => TfValue::Unknown,
            TfValue::Known(v) => TfValue::Known(f(v)),
        }
    }
}

impl<T> From<T> for TfValue<T> {
    fn from(v: T) -> TfValue<T> {
        TfValue::Known(v)
    }
}

impl<T> From<Option<T>> for TfValue<T> {
    fn from(v: Option<T>) -> TfValue<T> {
        v.map_or(TfValue::Null, TfValue::Known)
    }
}

impl<T: Serialize> Serialize for TfValue<T> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TfValue::Null => serializer.serialize_none(),
            TfValue::Unknown => serializer.serialize_unit_struct(UNKNOWN),
            TfValue::Known(v) => v.serialize(serializer),
        }
    }
}

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for TfValue<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> de::Visitor<'de> for Visit<T> {
            type Value = TfValue<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, null or unknown")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TfValue::Null)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TfValue::Unknown)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(TfValue::Known)
            }
            // Other deserializers (e.g. JSON) reach here: null means null.
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                <Option<T> as de::Deserialize>::deserialize(d).map(TfValue::from)
            }
        }
        deserializer.deserialize_newtype_struct(TF_VALUE, Visit(PhantomData))
    }
}

/// A value that does not fit the model (or a model that cannot become a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if .path.is_root() { String::new() } else { format!(" (at {})", .path) })]
pub struct ModelError {
    pub path: AttributePath,
    pub message: String,
}

impl de::Error for ModelError {
    fn custom<T: fmt::Display>(msg: T) -> ModelError {
        ModelError {
            path: AttributePath::root(),
            message: msg.to_string(),
        }
    }
}

impl ser::Error for ModelError {
    fn custom<T: fmt::Display>(msg: T) -> ModelError {
        de::Error::custom(msg)
    }
}

impl ModelError {
    /// An error at the place `trail` leads to (the owned path is built here, on error only).
    fn at(trail: &PathTrail<'_>, message: impl Into<String>) -> ModelError {
        ModelError {
            path: trail.to_path(),
            message: message.into(),
        }
    }

    /// Adds the path of `trail` when the error does not carry one yet (serde's own errors, e.g. a
    /// missing field).
    fn located(mut self, trail: &PathTrail<'_>) -> ModelError {
        if self.path.is_root() {
            self.path = trail.to_path();
        }
        self
    }
}

/// Reads a model from a value. Same as [`from_value_ref`], for an owned value.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ModelError> {
    from_value_ref(&value)
}

/// Reads a model from a borrowed value: nothing is cloned, and strings are lent to the model (a
/// model may hold `&str` or `Cow<str>` borrowed from `value`). Paths are only made for an error.
pub fn from_value_ref<'de, T: de::Deserialize<'de>>(value: &'de Value) -> Result<T, ModelError> {
    T::deserialize(ValueDeserializer {
        value,
        trail: PathTrail::Root,
    })
}

/// Writes a model as a value (not yet conformed to a schema type: see [`Value::conform`]).
pub fn to_value<T: Serialize + ?Sized>(model: &T) -> Result<Value, ModelError> {
    model.serialize(ValueSerializer)
}

// ---------------------------------------------------------------------------------------------
// Value -> model

/// What a null map reads as (see [`ValueDeserializer::deserialize_map`]).
static EMPTY_MAP: BTreeMap<String, Value> = BTreeMap::new();

/// Deserializes the value it borrows; `trail` (steps on the stack) says where it is, for errors.
struct ValueDeserializer<'de, 't> {
    value: &'de Value,
    trail: PathTrail<'t>,
}

impl ValueDeserializer<'_, '_> {
    fn unknown_error(&self) -> ModelError {
        ModelError::at(
            &self.trail,
            "value is not known yet; use TfValue<T> for attributes that can be unknown",
        )
    }
}

/// Hands a number to the visitor in the widest form that holds it.
fn visit_number<'de, V: de::Visitor<'de>>(
    number: &'de Number,
    visitor: V,
) -> Result<V::Value, ModelError> {
    match number {
        Number::Int(i) => visitor.visit_i64(*i),
        Number::Float(f) => visitor.visit_f64(*f),
        Number::Decimal(s) => {
            if let Ok(u) = s.parse::<u64>() {
                visitor.visit_u64(u)
            } else if let Ok(f) = s.parse::<f64>() {
                visitor.visit_f64(f)
            } else {
                visitor.visit_borrowed_str(s)
            }
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de, '_> {
    type Error = ModelError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        let trail = self.trail;
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Unknown => return Err(self.unknown_error()),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => visit_number(n, visitor),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::List(vs) | Value::Tuple(vs) => visitor.visit_seq(Seq::new(vs, &trail, true)),
            Value::Set(vs) => visitor.visit_seq(Seq::new(vs, &trail, false)),
            Value::Map(m) => visitor.visit_map(Map::new(m, &trail, false)),
            Value::Object(m) => visitor.visit_map(Map::new(m, &trail, true)),
            Value::Dynamic(_, inner) => ValueDeserializer {
                value: inner,
                trail,
            }
            .deserialize_any(visitor),
        };
        result.map_err(|e| e.located(&trail))
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            Value::Unknown => Err(self.unknown_error()),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ModelError> {
        if name == TF_VALUE {
            return match self.value {
                Value::Null => visitor.visit_none(),
                Value::Unknown => visitor.visit_unit(),
                Value::Dynamic(_, inner) if inner.is_null() || inner.is_unknown() => {
                    ValueDeserializer {
                        value: inner,
                        trail: self.trail,
                    }
                    .deserialize_newtype_struct(name, visitor)
                }
                _ => visitor.visit_some(self),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ModelError> {
        match self.value {
            Value::String(s) => visitor
                .visit_enum(BorrowedStrDeserializer::new(s))
                .map_err(|e: ModelError| e.located(&self.trail)),
            Value::Unknown => Err(self.unknown_error()),
            other => Err(ModelError::at(
                &self.trail,
                format!(
                    "expected a string naming a variant, got {}",
                    crate::value::kind(other)
                ),
            )),
        }
    }

    /// A null collection reads as an empty one (`Vec<T>`); use `Option<Vec<T>>` to tell them apart.
    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        if matches!(self.value, Value::Null) {
            return visitor.visit_seq(Seq::new(&[], &self.trail, true));
        }
        self.deserialize_any(visitor)
    }

    /// A null map reads as an empty one (`BTreeMap`); use `Option<BTreeMap<…>>` to tell them apart.
    fn deserialize_map<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        if matches!(self.value, Value::Null) {
            return visitor.visit_map(Map::new(&EMPTY_MAP, &self.trail, false));
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct struct identifier ignored_any
    }
}

/// The elements of a list, tuple or set; list and tuple elements are at their index, set elements
/// at the set's own path (they have no stable position).
struct Seq<'de, 't> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    trail: &'t PathTrail<'t>,
    indexed: bool,
}

impl<'de, 't> Seq<'de, 't> {
    fn new(items: &'de [Value], trail: &'t PathTrail<'t>, indexed: bool) -> Seq<'de, 't> {
        Seq {
            items: items.iter().enumerate(),
            trail,
            indexed,
        }
    }
}

impl<'de> de::SeqAccess<'de> for Seq<'de, '_> {
    type Error = ModelError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ModelError> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        let trail = if self.indexed {
            self.trail.index(i)
        } else {
            *self.trail
        };
        seed.deserialize(ValueDeserializer { value, trail })
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a map (values at their key) or object (values at their attribute).
struct Map<'de, 't> {
    entries: std::collections::btree_map::Iter<'de, String, Value>,
    pending: Option<(&'de str, &'de Value)>,
    trail: &'t PathTrail<'t>,
    object: bool,
}

impl<'de, 't> Map<'de, 't> {
    fn new(
        entries: &'de BTreeMap<String, Value>,
        trail: &'t PathTrail<'t>,
        object: bool,
    ) -> Map<'de, 't> {
        Map {
            entries: entries.iter(),
            pending: None,
            trail,
            object,
        }
    }
}

impl<'de> de::MapAccess<'de> for Map<'de, '_> {
    type Error = ModelError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ModelError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ModelError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| ModelError::at(self.trail, "map value requested before its key"))?;
        let trail = if self.object {
            self.trail.attr(key)
        } else {
            self.trail.key(key)
        };
        seed.deserialize(ValueDeserializer { value, trail })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

// ---------------------------------------------------------------------------------------------
// model -> Value

struct ValueSerializer;

fn unsupported(what: &str) -> ModelError {
    ModelError {
        path: AttributePath::root(),
        message: format!("{what} cannot be stored in a Terraform value"),
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ModelError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = ser::Impossible<Value, ModelError>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = ser::Impossible<Value, ModelError>;

    fn serialize_bool(self, v: bool) -> Result<Value, ModelError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ModelError> {
        Ok(Value::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ModelError> {
        Ok(Value::from(i64::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ModelError> {
        Ok(Value::Number(match i64::try_from(v) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(v.to_string()),
        }))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ModelError> {
        Ok(Value::from(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ModelError> {
        if !v.is_finite() {
            return Err(unsupported("a non-finite number"));
        }
        Ok(Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ModelError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ModelError> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ModelError> {
        Ok(Value::List(
            v.iter().map(|b| Value::from(i64::from(*b))).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, ModelError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ModelError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ModelError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, ModelError> {
        Ok(if name == UNKNOWN {
            Value::Unknown
        } else {
            Value::Null
        })
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ModelError> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ModelError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ModelError> {
        Ok(Value::object([(variant, value.serialize(self)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ModelError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0)), false))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ModelError> {
        Ok(SeqBuilder(Vec::with_capacity(len), true))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ModelError> {
        Ok(SeqBuilder(Vec::with_capacity(len), true))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ModelError> {
        Err(unsupported("a tuple enum variant"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, ModelError> {
        Ok(MapBuilder {
            entries: BTreeMap::new(),
            key: None,
            object: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapBuilder, ModelError> {
        Ok(MapBuilder {
            entries: BTreeMap::new(),
            key: None,
            object: true,
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ModelError> {
        Err(unsupported("a struct enum variant"))
    }
}

/// Collects sequence elements; the flag says whether it was a Rust tuple.
struct SeqBuilder(Vec<Value>, bool);

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ModelError> {
        let path = AttributePath::root().index(self.0.len());
        let v = value
            .serialize(ValueSerializer)
            .map_err(|e| prefix(e, &path))?;
        self.0.push(v);
        Ok(())
    }

    fn finish(self) -> Value {
        if self.1 {
            Value::Tuple(self.0)
        } else {
            Value::List(self.0)
        }
    }
}

fn prefix(mut e: ModelError, outer: &AttributePath) -> ModelError {
    let mut steps = outer.steps().to_vec();
    steps.extend(e.path.steps().iter().cloned());
    e.path = AttributePath::from_steps(steps);
    e
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ModelError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ModelError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ModelError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

struct MapBuilder {
    entries: BTreeMap<String, Value>,
    key: Option<String>,
    object: bool,
}

impl MapBuilder {
    fn insert<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), ModelError> {
        let path = if self.object {
            AttributePath::new(&key)
        } else {
            AttributePath::root().key(&key)
        };
        let v = value
            .serialize(ValueSerializer)
            .map_err(|e| prefix(e, &path))?;
        self.entries.insert(key, v);
        Ok(())
    }

    fn finish(self) -> Value {
        if self.object {
            Value::Object(self.entries)
        } else {
            Value::Map(self.entries)
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ModelError> {
        match key.serialize(ValueSerializer)? {
            Value::String(s) => {
                self.key = Some(s);
                Ok(())
            }
            Value::Number(n) => {
                self.key = Some(n.to_string());
                Ok(())
            }
            _ => Err(unsupported("a map key that is not a string")),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ModelError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| unsupported("a map value without a key"))?;
        self.insert(key, value)
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ModelError> {
        self.insert(key.to_owned(), value)
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Type;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rule {
        port: i64,
        protocol: Option<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Safe,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Model {
        name: String,
        id: TfValue<String>,
        replicas: TfValue<i64>,
        labels: BTreeMap<String, String>,
        rules: Vec<Rule>,
        mode: Mode,
        enabled: Option<bool>,
    }

    fn sample() -> Value {
        Value::object([
            ("name", Value::from("runner")),
            ("id", Value::Unknown),
            ("replicas", Value::Null),
            (
                "labels",
                Value::Map(BTreeMap::from([("app".to_owned(), Value::from("x"))])),
            ),
            (
                "rules",
                Value::List(vec![Value::object([
                    ("port", Value::from(80_i64)),
                    ("protocol", Value::Null),
                ])]),
            ),
            ("mode", Value::from("safe")),
            ("enabled", Value::from(true)),
        ])
    }

    #[test]
    fn model_reads_null_unknown_and_known_explicitly() {
        let m: Model = from_value(sample()).unwrap();
        assert_eq!(m.id, TfValue::Unknown);
        assert_eq!(m.replicas, TfValue::Null);
        assert_eq!(
            m.rules[0],
            Rule {
                port: 80,
                protocol: None
            }
        );
        assert_eq!(m.mode, Mode::Safe);
        assert_eq!(m.enabled, Some(true));
    }

    #[test]
    fn model_round_trips_through_value() {
        let m: Model = from_value(sample()).unwrap();
        assert_eq!(to_value(&m).unwrap(), sample());
    }

    #[test]
    fn unknown_into_a_plain_field_names_the_attribute() {
        let v = Value::object([("port", Value::Unknown), ("protocol", Value::Null)]);
        let err = from_value::<Rule>(v).unwrap_err();
        assert_eq!(err.path.to_string(), "port");
        assert!(err.message.contains("TfValue"), "{err}");
    }

    #[test]
    fn wrong_type_in_nested_list_names_the_element() {
        let mut v = sample();
        if let Some(Value::List(rules)) = v.at_mut(&AttributePath::new("rules")) {
            rules[0] = Value::object([("port", Value::from("eighty")), ("protocol", Value::Null)]);
        }
        let err = from_value::<Model>(v).unwrap_err();
        assert_eq!(err.path.to_string(), "rules[0].port");
    }

    #[test]
    fn null_collections_read_as_empty_unless_optional() {
        #[derive(Deserialize)]
        struct M {
            list: Vec<String>,
            map: BTreeMap<String, i64>,
            maybe: Option<Vec<String>>,
        }
        let m: M = from_value(Value::object([
            ("list", Value::Null),
            ("map", Value::Null),
            ("maybe", Value::Null),
        ]))
        .unwrap();
        assert!(m.list.is_empty() && m.map.is_empty() && m.maybe.is_none());
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Port {
        number: i64,
        name: TfValue<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Rich {
        name: String,
        id: TfValue<String>,
        count: TfValue<i64>,
        known: TfValue<Vec<String>>,
        from_dynamic: TfValue<String>,
        unknown_dynamic: TfValue<String>,
        big: u64,
        ratio: f64,
        mode: Mode,
        ports: Vec<Port>,
        tags: Vec<String>,
        labels: BTreeMap<String, String>,
        nested: BTreeMap<String, Vec<Port>>,
        pair: (String, i64),
        extra: serde_json::Value,
        maybe: Option<Vec<String>>,
        empty: Vec<String>,
    }

    fn port(number: Value, name: Value) -> Value {
        Value::object([("number", number), ("name", name)])
    }

    fn rich() -> Value {
        let dynamic = |inner: Value| Value::Dynamic(inner.infer_type(), Box::new(inner));
        Value::object([
            ("name", Value::from("runner")),
            ("id", Value::Unknown),
            ("count", Value::Null),
            ("known", Value::List(vec![Value::from("a")])),
            ("from_dynamic", dynamic(Value::from("d"))),
            (
                "unknown_dynamic",
                Value::Dynamic(Type::String, Box::new(Value::Unknown)),
            ),
            (
                "big",
                Value::Number(Number::Decimal("18446744073709551615".to_owned())),
            ),
            ("ratio", Value::from(0.5)),
            ("mode", Value::from("fast")),
            (
                "ports",
                Value::List(vec![
                    port(Value::from(80_i64), Value::from("http")),
                    port(Value::from(443_i64), Value::Unknown),
                ]),
            ),
            (
                "tags",
                Value::Set(vec![Value::from("blue"), Value::from("green")]),
            ),
            (
                "labels",
                Value::Map(BTreeMap::from([("app".to_owned(), Value::from("x"))])),
            ),
            (
                "nested",
                Value::Map(BTreeMap::from([(
                    "a".to_owned(),
                    Value::List(vec![port(Value::from(1_i64), Value::Null)]),
                )])),
            ),
            (
                "pair",
                Value::Tuple(vec![Value::from("p"), Value::from(2_i64)]),
            ),
            (
                "extra",
                dynamic(Value::object([
                    ("list", Value::List(vec![Value::from(1.5), Value::Null])),
                    ("flag", Value::from(true)),
                ])),
            ),
            ("maybe", Value::Null),
            ("empty", Value::Null),
        ])
    }

    #[test]
    fn borrowed_and_owned_reads_agree_on_a_rich_value() {
        let value = rich();
        let borrowed: Rich = from_value_ref(&value).unwrap();
        assert_eq!(value, rich(), "reading leaves the value as it was");
        let owned: Rich = from_value(value).unwrap();
        assert_eq!(borrowed, owned);
        assert_eq!(borrowed.id, TfValue::Unknown);
        assert_eq!(borrowed.count, TfValue::Null);
        assert_eq!(borrowed.known, TfValue::Known(vec!["a".to_owned()]));
        assert_eq!(borrowed.from_dynamic, TfValue::Known("d".to_owned()));
        assert_eq!(borrowed.unknown_dynamic, TfValue::Unknown);
        assert_eq!(borrowed.big, u64::MAX);
        assert_eq!(borrowed.mode, Mode::Fast);
        assert_eq!(borrowed.ports[1].name, TfValue::Unknown);
        assert_eq!(borrowed.tags, ["blue", "green"]);
        assert_eq!(borrowed.nested["a"][0].number, 1);
        assert_eq!(borrowed.pair, ("p".to_owned(), 2));
        assert_eq!(
            borrowed.extra,
            serde_json::json!({"flag": true, "list": [1.5, null]})
        );
        assert!(borrowed.maybe.is_none() && borrowed.empty.is_empty());
    }

    #[test]
    fn a_borrowed_read_lends_its_strings() {
        #[derive(Deserialize)]
        struct Lent<'a> {
            name: &'a str,
            labels: BTreeMap<&'a str, &'a str>,
        }
        let value = Value::object([
            ("name", Value::from("runner")),
            (
                "labels",
                Value::Map(BTreeMap::from([("app".to_owned(), Value::from("x"))])),
            ),
        ]);
        let lent: Lent<'_> = from_value_ref(&value).unwrap();
        assert_eq!(lent.name, "runner");
        assert_eq!(lent.labels.get("app"), Some(&"x"));
    }

    /// Reads `rich()` with `change` applied, both ways; both must fail the same way.
    fn rich_error(path: &AttributePath, change: Value) -> ModelError {
        let mut value = rich();
        *value.at_mut(path).unwrap() = change;
        let borrowed = from_value_ref::<Rich>(&value).unwrap_err();
        assert_eq!(from_value::<Rich>(value).unwrap_err(), borrowed);
        borrowed
    }

    #[test]
    fn errors_deep_inside_name_the_same_path_both_ways() {
        let unknown = rich_error(
            &AttributePath::new("ports").index(1).attr("number"),
            Value::Unknown,
        );
        assert_eq!(unknown.path.to_string(), "ports[1].number");
        assert_eq!(
            unknown.message,
            "value is not known yet; use TfValue<T> for attributes that can be unknown"
        );
        let in_map = AttributePath::new("nested")
            .key("a")
            .index(0)
            .attr("number");
        let wrong = rich_error(&in_map, Value::from("x"));
        assert_eq!(wrong.path.to_string(), r#"nested["a"][0].number"#);
        assert_eq!(wrong.message, r#"invalid type: string "x", expected i64"#);
        let missing = rich_error(
            &AttributePath::new("ports").index(0),
            Value::object([("name", Value::Null)]),
        );
        assert_eq!(missing.path.to_string(), "ports[0]");
        assert_eq!(missing.message, "missing field `number`");
        let in_set = rich_error(&AttributePath::new("tags").index(1), Value::Unknown);
        assert_eq!(
            in_set.path.to_string(),
            "tags",
            "set elements are at the set"
        );
        let variant = rich_error(&AttributePath::new("mode"), Value::from("slow"));
        assert_eq!(variant.path.to_string(), "mode");
        assert_eq!(
            variant.message,
            "unknown variant `slow`, expected `fast` or `safe`"
        );
        let not_a_string = rich_error(&AttributePath::new("mode"), Value::from(1_i64));
        assert_eq!(
            not_a_string.message,
            "expected a string naming a variant, got a number"
        );
        let in_dynamic = rich_error(
            &AttributePath::new("extra").attr("list").index(1),
            Value::Unknown,
        );
        assert_eq!(in_dynamic.path.to_string(), "extra.list[1]");
    }

    #[test]
    fn option_then_any_sees_lists_objects_and_null() {
        /// Reads `deserialize_option`, then `deserialize_any`, as the release's block helper does.
        struct Shape;
        impl<'de> de::Visitor<'de> for Shape {
            type Value = &'static str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_none<E: de::Error>(self) -> Result<&'static str, E> {
                Ok("none")
            }
            fn visit_unit<E: de::Error>(self) -> Result<&'static str, E> {
                Ok("unit")
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<&'static str, A::Error> {
                Ok("seq")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<&'static str, A::Error> {
                Ok("map")
            }
        }
        let shape = |value: &Value| {
            de::Deserializer::deserialize_option(
                ValueDeserializer {
                    value,
                    trail: PathTrail::Root,
                },
                Shape,
            )
            .unwrap()
        };
        let null_inside = Value::Dynamic(Type::Dynamic, Box::new(Value::Null));
        assert_eq!(shape(&Value::Null), "none");
        assert_eq!(shape(&null_inside), "unit");
        assert_eq!(shape(&Value::List(Vec::new())), "seq");
        assert_eq!(shape(&Value::Set(Vec::new())), "seq");
        assert_eq!(shape(&Value::object([("a", Value::Null)])), "map");
    }

    #[test]
    fn non_finite_floats_are_refused() {
        assert!(to_value(&f64::NAN).is_err());
    }
}
