//! Terraform's type system (cty) as a Rust enum, and its JSON encoding.
//!
//! Terraform crashes on a malformed type string, so type JSON is always generated from [`Type`],
//! never written by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Value as Json, json};

/// The type of a Terraform value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Bool,
    Number,
    String,
    /// Any type, decided by the value (`dynamic` in type JSON).
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// Named attributes; `optional` lists attributes that may be omitted (only meaningful in
    /// type constraints such as function parameters).
    Object {
        attributes: BTreeMap<String, Type>,
        optional: BTreeSet<String>,
    },
    Tuple(Vec<Type>),
}

/// A type JSON document that is not a valid Terraform type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid type JSON: {0}")]
pub struct TypeJsonError(pub String);

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// An object type with every attribute required.
    pub fn object<K: Into<String>>(attributes: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object {
            attributes: attributes.into_iter().map(|(k, t)| (k.into(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    pub fn tuple(elements: impl IntoIterator<Item = Type>) -> Type {
        Type::Tuple(elements.into_iter().collect())
    }

    /// The attributes of an object type (empty for other types).
    pub fn attributes(&self) -> Option<&BTreeMap<String, Type>> {
        match self {
            Type::Object { attributes, .. } => Some(attributes),
            _ => None,
        }
    }

    /// The element type of a list, set or map.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The type JSON Terraform expects, e.g. `["list","string"]`.
    pub fn to_json(&self) -> Json {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object {
                attributes,
                optional,
            } => {
                let attrs: serde_json::Map<String, Json> = attributes
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                if optional.is_empty() {
                    json!(["object", attrs])
                } else {
                    json!(["object", attrs, optional.iter().collect::<Vec<_>>()])
                }
            }
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
        }
    }

    /// The type JSON as bytes, as the protocol carries it.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses type JSON.
    pub fn from_json(json: &Json) -> Result<Type, TypeJsonError> {
        let bad = || TypeJsonError(json.to_string());
        match json {
            Json::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            Json::Array(parts) => {
                let kind = parts.first().and_then(Json::as_str).ok_or_else(bad)?;
                let arg = parts.get(1).ok_or_else(bad)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(arg)?)),
                    "set" => Ok(Type::set(Type::from_json(arg)?)),
                    "map" => Ok(Type::map(Type::from_json(arg)?)),
                    "tuple" => {
                        let elems = arg.as_array().ok_or_else(bad)?;
                        Ok(Type::Tuple(
                            elems
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    "object" => {
                        let attrs = arg.as_object().ok_or_else(bad)?;
                        let attributes = attrs
                            .iter()
                            .map(|(k, v)| Ok((k.clone(), Type::from_json(v)?)))
                            .collect::<Result<_, TypeJsonError>>()?;
                        let optional = match parts.get(2) {
                            None => BTreeSet::new(),
                            Some(Json::Array(names)) => names
                                .iter()
                                .map(|n| n.as_str().map(str::to_owned).ok_or_else(bad))
                                .collect::<Result<_, _>>()?,
                            Some(_) => return Err(bad()),
                        };
                        Ok(Type::Object {
                            attributes,
                            optional,
                        })
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }

    /// Parses type JSON bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, TypeJsonError> {
        let json: Json = serde_json::from_slice(bytes)
            .map_err(|_| TypeJsonError(String::from_utf8_lossy(bytes).into_owned()))?;
        Type::from_json(&json)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_and_collection_types_have_terraform_spelling() {
        assert_eq!(Type::String.to_json_bytes(), b"\"string\"");
        assert_eq!(
            String::from_utf8(Type::list(Type::String).to_json_bytes()).unwrap(),
            r#"["list","string"]"#
        );
        assert_eq!(
            String::from_utf8(Type::map(Type::set(Type::Number)).to_json_bytes()).unwrap(),
            r#"["map",["set","number"]]"#
        );
    }

    #[test]
    fn object_type_json_lists_optional_attributes_third() {
        let mut ty = Type::object([("a", Type::Bool), ("b", Type::Dynamic)]);
        if let Type::Object { optional, .. } = &mut ty {
            optional.insert("b".into());
        }
        assert_eq!(
            ty.to_json().to_string(),
            r#"["object",{"a":"bool","b":"dynamic"},["b"]]"#
        );
        assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
    }

    #[test]
    fn malformed_type_json_is_rejected() {
        for bad in [
            r#""strin""#,
            r#"["list"]"#,
            r#"["object",[]]"#,
            "3",
            r#"["tuple","x"]"#,
        ] {
            assert!(Type::from_json_bytes(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
