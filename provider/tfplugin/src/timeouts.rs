//! The `timeouts { create, read, update, delete }` block, with Go duration strings.
//!
//! Add [`block`] to a schema under the name [`BLOCK_NAME`] and a `timeouts: Option<Timeouts>`
//! field to the model (or read it with [`Timeouts::from_document`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::document::Document;
use crate::duration::parse_go_duration;
use crate::path::AttributePath;
use crate::schema::{Attribute, Block, NestedBlock};
use crate::validators;

/// The block's name in configurations.
pub const BLOCK_NAME: &str = "timeouts";

/// Which operations the block offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// The nested block (single nesting: `timeouts { create = "10m" }`).
pub fn block(operations: &[Operation]) -> NestedBlock {
    let mut b = Block::new().description(
        "How long each operation may take, as a duration such as \"30s\", \"10m\" or \"1h\".",
    );
    for op in operations {
        b = b.attribute(
            op.name(),
            Attribute::string()
                .optional()
                .validator(validators::duration())
                .description(format!(
                    "Time limit for {} (a duration such as \"10m\").",
                    op.name()
                )),
        );
    }
    NestedBlock::single(b)
}

/// The block's value. Missing entries use the default each call passes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    #[serde(default)]
    pub create: Option<String>,
    #[serde(default)]
    pub read: Option<String>,
    #[serde(default)]
    pub update: Option<String>,
    #[serde(default)]
    pub delete: Option<String>,
}

impl Timeouts {
    /// Reads the block from a document; a missing or null block reads as all defaults.
    pub fn from_document(doc: &Document) -> Result<Timeouts, Diagnostics> {
        let t: Option<Timeouts> = doc.get_attr(&AttributePath::new(BLOCK_NAME))?;
        Ok(t.unwrap_or_default())
    }

    /// The limit for `operation`, or `default` when unset.
    pub fn get(&self, operation: Operation, default: Duration) -> Result<Duration, Diagnostic> {
        let raw = match operation {
            Operation::Create => &self.create,
            Operation::Read => &self.read,
            Operation::Update => &self.update,
            Operation::Delete => &self.delete,
        };
        match raw {
            None => Ok(default),
            Some(s) => parse_go_duration(s).map_err(|e| {
                Diagnostic::error("Invalid Timeout", format!("{e}."))
                    .at(AttributePath::new(BLOCK_NAME).attr(operation.name()))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Type;
    use crate::value::Value;
    use std::sync::Arc;

    #[test]
    fn unset_timeouts_use_the_default_and_set_ones_parse() {
        let ty = Arc::new(Type::object([(
            BLOCK_NAME,
            block(&[Operation::Create, Operation::Delete]).value_type(),
        )]));
        let doc = Document::new(
            ty.clone(),
            Value::object([(
                BLOCK_NAME,
                Value::object([("create", Value::from("2m")), ("delete", Value::Null)]),
            )]),
        );
        let t = Timeouts::from_document(&doc).unwrap();
        assert_eq!(
            t.get(Operation::Create, Duration::from_secs(1)).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            t.get(Operation::Delete, Duration::from_secs(7)).unwrap(),
            Duration::from_secs(7)
        );
        let none = Timeouts::from_document(&Document::empty_object(ty)).unwrap();
        assert_eq!(none, Timeouts::default());
    }

    #[test]
    fn a_bad_timeout_points_at_its_attribute() {
        let t = Timeouts {
            update: Some("soon".into()),
            ..Timeouts::default()
        };
        let d = t.get(Operation::Update, Duration::ZERO).unwrap_err();
        assert_eq!(d.attribute.unwrap().to_string(), "timeouts.update");
    }
}
