//! Terraform values: null and unknown are ordinary cases, not errors.

use std::collections::BTreeMap;
use std::fmt;

use crate::path::{AttributePath, PathStep};
use crate::types::Type;

/// A Terraform number. Terraform sends integers that fit in 64 bits as integers, other exactly
/// representable numbers as floats and everything else as a decimal string; all three are kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A decimal that fits neither `i64` nor `f64` exactly, kept verbatim.
    Decimal(String),
}

impl Number {
    /// A float, stored as an integer when it is one (the way Terraform encodes it).
    pub fn from_f64(f: f64) -> Number {
        // Integral floats within i64 range are integers on the wire.
        if f.fract() == 0.0 && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f) {
            #[allow(clippy::cast_possible_truncation)]
            return Number::Int(f as i64);
        }
        Number::Float(f)
    }

    /// A number from a decimal string (integers become [`Number::Int`]).
    pub fn from_decimal(s: &str) -> Number {
        match s.parse::<i64>() {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(s.to_owned()),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse().ok(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Decimal(s) => s.parse().ok(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(s) => f.write_str(s),
        }
    }
}

/// A Terraform value. Whether it is a list, set or tuple (map or object) is decided by its
/// [`Type`]; the codecs and [`Value::conform`] keep the variant in line with the type.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    /// Known only after apply. Refinements Terraform may attach are not kept.
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A value of an attribute typed `dynamic`, with the concrete type it arrived with.
    Dynamic(Type, Box<Value>),
}

/// A value that does not fit the type it is meant to have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", at_path(.path))]
pub struct ValueError {
    pub path: AttributePath,
    pub message: String,
}

fn at_path(path: &AttributePath) -> String {
    if path.is_root() {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

impl ValueError {
    pub fn new(path: &AttributePath, message: impl Into<String>) -> ValueError {
        ValueError {
            path: path.clone(),
            message: message.into(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Number(Number::from_f64(f))
    }
}

impl Value {
    /// An object value from `(name, value)` pairs.
    pub fn object<K: Into<String>>(attributes: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attributes.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Dynamic(_, v) => v.is_null(),
            _ => false,
        }
    }

    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Dynamic(_, v) => v.is_unknown(),
            _ => false,
        }
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                vs.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }

    /// The first path (depth first) holding an unknown value.
    pub fn first_unknown(&self) -> Option<AttributePath> {
        // The path is built on the way back from the unknown value (steps in reverse), so a
        // value without one (every state a resource returns) costs no allocation.
        fn walk(v: &Value, reversed: &mut Vec<PathStep>) -> bool {
            let step = |step: PathStep, reversed: &mut Vec<PathStep>| {
                reversed.push(step);
                true
            };
            match v {
                Value::Unknown => true,
                Value::List(vs) | Value::Tuple(vs) => vs.iter().enumerate().any(|(i, e)| {
                    walk(e, reversed)
                        && step(
                            PathStep::Index(i64::try_from(i).unwrap_or(i64::MAX)),
                            reversed,
                        )
                }),
                Value::Set(vs) => vs.iter().any(|e| walk(e, reversed)),
                Value::Map(m) => m
                    .iter()
                    .any(|(k, e)| walk(e, reversed) && step(PathStep::Key(k.clone()), reversed)),
                Value::Object(m) => m.iter().any(|(k, e)| {
                    walk(e, reversed) && step(PathStep::Attribute(k.clone()), reversed)
                }),
                Value::Dynamic(_, inner) => walk(inner, reversed),
                _ => false,
            }
        }
        let mut reversed = Vec::new();
        walk(self, &mut reversed).then(|| {
            reversed.reverse();
            AttributePath::from_steps(reversed)
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, v) => v.as_bool(),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            Value::Dynamic(_, v) => v.as_number(),
            _ => None,
        }
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => Some(vs),
            Value::Dynamic(_, v) => v.as_elements(),
            _ => None,
        }
    }

    /// The entries of a map or object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            Value::Dynamic(_, v) => v.as_entries(),
            _ => None,
        }
    }

    /// An attribute of an object value.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.as_entries()?.get(name)
    }

    /// The value at `path`, if the path exists in this value.
    pub fn at(&self, path: &AttributePath) -> Option<&Value> {
        let mut current = self;
        for step in path.steps() {
            current = match (step, current) {
                (_, Value::Dynamic(_, inner)) => {
                    inner.at(&AttributePath::from_steps(vec![step.clone()]))?
                }
                (PathStep::Attribute(k) | PathStep::Key(k), Value::Object(m) | Value::Map(m)) => {
                    m.get(k)?
                }
                (PathStep::Index(i), Value::List(vs) | Value::Tuple(vs) | Value::Set(vs)) => {
                    vs.get(usize::try_from(*i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(current)
    }

    /// A mutable reference to the value at `path`, if the path exists.
    pub fn at_mut(&mut self, path: &AttributePath) -> Option<&mut Value> {
        let mut current = self;
        for step in path.steps() {
            if let Value::Dynamic(_, inner) = current {
                current = inner.as_mut();
            }
            current = match (step, current) {
                (PathStep::Attribute(k) | PathStep::Key(k), Value::Object(m) | Value::Map(m)) => {
                    m.get_mut(k)?
                }
                (PathStep::Index(i), Value::List(vs) | Value::Tuple(vs) | Value::Set(vs)) => {
                    vs.get_mut(usize::try_from(*i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(current)
    }

    /// A value of type `ty` with every object attribute present: each attribute is null, and the
    /// value itself is an object (for object types) or null.
    pub fn null_object(ty: &Type) -> Value {
        match ty {
            Type::Object { attributes, .. } => Value::Object(
                attributes
                    .keys()
                    .map(|k| (k.clone(), Value::Null))
                    .collect(),
            ),
            _ => Value::Null,
        }
    }

    /// Reshapes this value to have exactly type `ty`: arrays become lists, sets or tuples and
    /// maps become maps or objects as the type says, and objects gain every missing attribute as
    /// null. Fails on a value that cannot have that type (e.g. an unexpected attribute).
    pub fn conform(self, ty: &Type) -> Result<Value, ValueError> {
        conform(self, ty, &AttributePath::root())
    }

    /// The type of this value as far as it can be told from the value alone (used for values of
    /// `dynamic` attributes that were not built from a typed source).
    pub fn infer_type(&self) -> Type {
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(vs) => Type::list(common_type(vs)),
            Value::Set(vs) => Type::set(common_type(vs)),
            Value::Map(m) => Type::map(common_type(m.values())),
            Value::Object(m) => Type::object(m.iter().map(|(k, v)| (k.clone(), v.infer_type()))),
            Value::Tuple(vs) => Type::tuple(vs.iter().map(Value::infer_type)),
            Value::Dynamic(t, _) => t.clone(),
        }
    }
}

fn common_type<'a>(values: impl IntoIterator<Item = &'a Value>) -> Type {
    let mut found = Type::Dynamic;
    for v in values {
        let t = v.infer_type();
        if found == Type::Dynamic {
            found = t;
        } else if t != Type::Dynamic && t != found {
            return Type::Dynamic;
        }
    }
    found
}

fn conform(value: Value, ty: &Type, path: &AttributePath) -> Result<Value, ValueError> {
    let mismatch = |v: &Value| {
        ValueError::new(
            path,
            format!("expected a value of type {ty}, got {}", kind(v)),
        )
    };
    match (ty, value) {
        (_, Value::Null) => Ok(Value::Null),
        (_, Value::Unknown) => Ok(Value::Unknown),
        (Type::Dynamic, v @ Value::Dynamic(..)) => Ok(v),
        (Type::Dynamic, v) => {
            let t = v.infer_type();
            Ok(Value::Dynamic(t, Box::new(v)))
        }
        (t, Value::Dynamic(inner_ty, inner)) if *t == inner_ty => conform(*inner, ty, path),
        (Type::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Type::Number, Value::Number(n)) => Ok(Value::Number(n)),
        (Type::String, Value::String(s)) => Ok(Value::String(s)),
        (Type::List(et), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            Ok(Value::List(conform_elements(vs, et, path, true)?))
        }
        (Type::Set(et), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            Ok(Value::Set(conform_elements(vs, et, path, false)?))
        }
        (Type::Tuple(ts), Value::List(vs) | Value::Set(vs) | Value::Tuple(vs)) => {
            if ts.len() != vs.len() {
                return Err(ValueError::new(
                    path,
                    format!(
                        "expected a tuple of {} elements, got {}",
                        ts.len(),
                        vs.len()
                    ),
                ));
            }
            let elems = vs
                .into_iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (v, t))| conform(v, t, &path.index(i)))
                .collect::<Result<_, _>>()?;
            Ok(Value::Tuple(elems))
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => {
            let entries = m
                .into_iter()
                .map(|(k, v)| {
                    let v = conform(v, et, &path.key(&k))?;
                    Ok((k, v))
                })
                .collect::<Result<_, ValueError>>()?;
            Ok(Value::Map(entries))
        }
        (Type::Object { attributes, .. }, Value::Map(mut m) | Value::Object(mut m)) => {
            if let Some(extra) = m.keys().find(|k| !attributes.contains_key(*k)) {
                return Err(ValueError::new(
                    &path.attr(extra),
                    format!("unexpected attribute {extra:?}: it is not in the schema"),
                ));
            }
            let mut out = BTreeMap::new();
            for (name, at) in attributes {
                let v = m.remove(name).unwrap_or(Value::Null);
                out.insert(name.clone(), conform(v, at, &path.attr(name))?);
            }
            Ok(Value::Object(out))
        }
        (_, v) => Err(mismatch(&v)),
    }
}

fn conform_elements(
    values: Vec<Value>,
    element_type: &Type,
    path: &AttributePath,
    indexed: bool,
) -> Result<Vec<Value>, ValueError> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let p = if indexed { path.index(i) } else { path.clone() };
            conform(v, element_type, &p)
        })
        .collect()
}

/// A short name for the kind of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Tuple(_) => "a tuple",
        Value::Dynamic(..) => "a dynamic value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conform_fills_missing_attributes_and_reshapes_collections() {
        let ty = Type::object([
            ("name", Type::String),
            ("ports", Type::set(Type::Number)),
            ("labels", Type::map(Type::String)),
        ]);
        let v = Value::object([("ports", Value::List(vec![Value::from(1_i64)]))]);
        let got = v.conform(&ty).unwrap();
        assert_eq!(
            got,
            Value::object([
                ("labels", Value::Null),
                ("name", Value::Null),
                ("ports", Value::Set(vec![Value::from(1_i64)])),
            ])
        );
    }

    #[test]
    fn conform_rejects_an_attribute_the_type_lacks_with_its_path() {
        let ty = Type::object([("a", Type::object([("b", Type::String)]))]);
        let v = Value::object([("a", Value::object([("c", Value::from("x"))]))]);
        let err = v.conform(&ty).unwrap_err();
        assert_eq!(err.path.to_string(), "a.c");
    }

    #[test]
    fn conform_rejects_wrong_primitive() {
        let err = Value::from(true).conform(&Type::String).unwrap_err();
        assert!(
            err.message.contains("expected a value of type \"string\""),
            "{err}"
        );
    }

    #[test]
    fn integral_floats_are_integers() {
        assert_eq!(Number::from_f64(3.0), Number::Int(3));
        assert_eq!(Number::from_f64(3.5), Number::Float(3.5));
        assert_eq!(Number::from_decimal("12"), Number::Int(12));
        assert_eq!(
            Number::from_decimal("123456789012345678901234567890"),
            Number::Decimal("123456789012345678901234567890".into())
        );
    }

    #[test]
    fn path_lookup_finds_nested_values_and_first_unknown() {
        let v = Value::object([(
            "rules",
            Value::List(vec![Value::object([("port", Value::Unknown)])]),
        )]);
        let p = AttributePath::new("rules").index(0).attr("port");
        assert_eq!(v.at(&p), Some(&Value::Unknown));
        assert_eq!(v.first_unknown(), Some(p));
        assert!(!v.is_wholly_known());
        let labels = Value::object([
            ("name", Value::from("a")),
            (
                "labels",
                Value::Map([("app".to_owned(), Value::Unknown)].into_iter().collect()),
            ),
        ]);
        assert_eq!(
            labels.first_unknown(),
            Some(AttributePath::new("labels").key("app"))
        );
        assert_eq!(
            Value::object([("name", Value::from("a"))]).first_unknown(),
            None
        );
    }
}
