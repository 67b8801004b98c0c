//! [`Document`]: a configuration, plan or state value together with its schema type, read and
//! written through typed models.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{self, ModelError};
use crate::path::{AttributePath, PathStep};
use crate::types::Type;
use crate::value::{Value, ValueError};

/// A whole configuration, plan or state of one resource (or data source, or provider).
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    value: Value,
    ty: Arc<Type>,
}

impl Document {
    /// A document holding `value` (which should already conform to `ty`).
    pub fn new(ty: Arc<Type>, value: Value) -> Document {
        Document { value, ty }
    }

    /// A null document (no resource).
    pub fn null(ty: Arc<Type>) -> Document {
        Document {
            value: Value::Null,
            ty,
        }
    }

    /// An object with every attribute null (the starting point of an import).
    pub fn empty_object(ty: Arc<Type>) -> Document {
        Document {
            value: Value::null_object(&ty),
            ty,
        }
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn into_value(self) -> Value {
        self.value
    }

    pub fn value_type(&self) -> &Arc<Type> {
        &self.ty
    }

    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// Reads the whole document as a model (from the borrowed value: nothing is cloned).
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, Diagnostics> {
        model::from_value_ref(&self.value).map_err(|e| model_error(&e, "Read"))
    }

    /// Reads one attribute (or a deeper path) as a model. A path that does not exist reads as null.
    pub fn get_attr<T: DeserializeOwned>(&self, path: &AttributePath) -> Result<T, Diagnostics> {
        let null = Value::Null;
        let v = self.value.at(path).unwrap_or(&null);
        model::from_value_ref(v).map_err(|e| {
            let mut steps = path.steps().to_vec();
            steps.extend(e.path.steps().iter().cloned());
            model_error(
                &ModelError {
                    path: AttributePath::from_steps(steps),
                    message: e.message,
                },
                "Read",
            )
        })
    }

    /// The raw value at `path`.
    pub fn attr(&self, path: &AttributePath) -> Option<&Value> {
        self.value.at(path)
    }

    /// Replaces the whole document with `model`, filling attributes the model lacks with null.
    pub fn set<T: Serialize + ?Sized>(&mut self, model: &T) -> Result<(), Diagnostics> {
        let v = model::to_value(model).map_err(|e| model_error(&e, "Write"))?;
        self.value = v.conform(&self.ty).map_err(|e| conform_error(&e))?;
        Ok(())
    }

    /// Sets one attribute (or a deeper path inside objects) to `value`.
    pub fn set_attr<T: Serialize + ?Sized>(
        &mut self,
        path: &AttributePath,
        value: &T,
    ) -> Result<(), Diagnostics> {
        let ty = type_at(&self.ty, path).ok_or_else(|| {
            Diagnostics::from(
                Diagnostic::error(
                    "Provider Bug: Unknown Attribute",
                    format!("The provider tried to set {path}, which is not in the schema."),
                )
                .at(path.clone()),
            )
        })?;
        let v = model::to_value(value).map_err(|e| model_error(&e, "Write"))?;
        let v = v.conform(ty).map_err(|e| conform_error(&e))?;
        if self.value.is_null() {
            self.value = Value::null_object(&self.ty);
        }
        match self.value.at_mut(path) {
            Some(slot) => {
                *slot = v;
                Ok(())
            }
            None => Err(Diagnostic::error(
                "Provider Bug: Cannot Set Attribute",
                format!("The provider tried to set {path} inside a null or missing value."),
            )
            .at(path.clone())
            .into()),
        }
    }

    /// Sets the raw value at `path` (no conversion).
    pub fn set_value(&mut self, path: &AttributePath, value: Value) -> Result<(), Diagnostics> {
        if path.is_root() {
            self.value = value;
            return Ok(());
        }
        if self.value.is_null() {
            self.value = Value::null_object(&self.ty);
        }
        match self.value.at_mut(path) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(Diagnostic::error(
                "Provider Bug: Cannot Set Attribute",
                format!("The provider tried to set {path}, which does not exist in the value."),
            )
            .into()),
        }
    }

    /// Makes the document null: in `read`, "the object is gone"; Terraform then plans a create.
    pub fn remove(&mut self) {
        self.value = Value::Null;
    }
}

/// The type at `path` inside `ty` (attribute and element steps), borrowed: a lookup, never a copy
/// of the schema's type tree.
pub fn type_at<'t>(ty: &'t Type, path: &AttributePath) -> Option<&'t Type> {
    let mut current = ty;
    for step in path.steps() {
        current = match (step, current) {
            (PathStep::Attribute(name), Type::Object { attributes, .. }) => attributes.get(name)?,
            (PathStep::Key(_), Type::Map(t)) => t,
            (PathStep::Index(_), Type::List(t) | Type::Set(t)) => t,
            (PathStep::Index(i), Type::Tuple(ts)) => ts.get(usize::try_from(*i).ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn model_error(e: &ModelError, verb: &str) -> Diagnostics {
    let d = Diagnostic::error(
        format!("Provider Bug: Cannot {verb} Model"),
        format!(
            "The provider's model does not match its schema: {}. Please report this issue to the provider developers.",
            e.message
        ),
    );
    if e.path.is_root() {
        d.into()
    } else {
        d.at(e.path.clone()).into()
    }
}

fn conform_error(e: &ValueError) -> Diagnostics {
    let d = Diagnostic::error(
        "Provider Bug: Value Does Not Match Schema",
        format!(
            "{}. Please report this issue to the provider developers.",
            e.message
        ),
    );
    if e.path.is_root() {
        d.into()
    } else {
        d.at(e.path.clone()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TfValue;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Model {
        id: TfValue<String>,
        name: String,
    }

    fn ty() -> Arc<Type> {
        Arc::new(Type::object([
            ("id", Type::String),
            ("name", Type::String),
            ("extra", Type::map(Type::String)),
        ]))
    }

    #[test]
    fn set_fills_attributes_the_model_does_not_name() {
        let mut d = Document::null(ty());
        d.set(&Model {
            id: TfValue::Unknown,
            name: "a".into(),
        })
        .unwrap();
        assert_eq!(d.value().attr("extra"), Some(&Value::Null));
        assert_eq!(d.value().attr("id"), Some(&Value::Unknown));
        let back: Model = d.get().unwrap();
        assert_eq!(back.name, "a");
    }

    #[test]
    fn set_attr_on_an_import_skeleton() {
        let mut d = Document::empty_object(ty());
        d.set_attr(&AttributePath::new("id"), "ns/name").unwrap();
        assert_eq!(
            d.attr(&AttributePath::new("id")),
            Some(&Value::from("ns/name"))
        );
        let err = d.set_attr(&AttributePath::new("nope"), "x").unwrap_err();
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn get_leaves_the_document_untouched_and_get_attr_prefixes_deep_errors() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Rule {
            port: i64,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct MaybeRule {
            port: TfValue<i64>,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct Whole {
            name: String,
            rules: Vec<MaybeRule>,
        }
        let ty = Arc::new(Type::object([
            ("name", Type::String),
            ("rules", Type::list(Type::object([("port", Type::Number)]))),
        ]));
        let rules = Value::List(vec![
            Value::object([("port", Value::from(80_i64))]),
            Value::object([("port", Value::Unknown)]),
        ]);
        let value = Value::object([("name", Value::from("a")), ("rules", rules)]);
        let d = Document::new(ty.clone(), value.clone());
        let whole: Whole = d.get().unwrap();
        assert_eq!(whole.name, "a");
        assert_eq!(whole.rules[0].port, TfValue::Known(80));
        assert_eq!(whole.rules[1].port, TfValue::Unknown);
        assert_eq!(
            d,
            Document::new(ty, value),
            "get leaves the document as it was"
        );
        let first: Rule = d.get_attr(&AttributePath::new("rules").index(0)).unwrap();
        assert_eq!(first, Rule { port: 80 });
        let err = d
            .get_attr::<Vec<Rule>>(&AttributePath::new("rules"))
            .unwrap_err();
        let diagnostic = err.iter().next().unwrap();
        assert_eq!(
            diagnostic.attribute.as_ref().unwrap().to_string(),
            "rules[1].port"
        );
        assert!(
            diagnostic.detail.contains("TfValue"),
            "{}",
            diagnostic.detail
        );
        let missing: Option<String> = d.get_attr(&AttributePath::new("nope")).unwrap();
        assert_eq!(missing, None, "a path that does not exist reads as null");
    }

    #[test]
    fn get_attr_reads_nested_and_reports_full_path() {
        let mut d = Document::empty_object(ty());
        d.set_attr(
            &AttributePath::new("extra"),
            &std::collections::BTreeMap::from([("k", "v")]),
        )
        .unwrap();
        let v: String = d.get_attr(&AttributePath::new("extra").key("k")).unwrap();
        assert_eq!(v, "v");
        let err = d
            .get_attr::<i64>(&AttributePath::new("extra").key("k"))
            .unwrap_err();
        assert_eq!(
            err.iter()
                .next()
                .unwrap()
                .attribute
                .as_ref()
                .unwrap()
                .to_string(),
            r#"extra["k"]"#
        );
    }
}
