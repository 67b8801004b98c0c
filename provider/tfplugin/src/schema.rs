//! Schemas: attributes, nested attributes and nested blocks, described in code.
//!
//! ```
//! use tfplugin::schema::{Attribute, Block, NestedBlock, Schema};
//! use tfplugin::plan_modifiers::RequiresReplace;
//!
//! let schema = Schema::new()
//!     .description("A thing in the cluster.")
//!     .attribute("id", Attribute::string().computed().description("`namespace/name`."))
//!     .attribute(
//!         "name",
//!         Attribute::string()
//!             .required()
//!             .description("Name of the thing.")
//!             .plan_modifier(RequiresReplace),
//!     )
//!     .block(
//!         "settings",
//!         NestedBlock::list(
//!             Block::new().attribute("key", Attribute::string().required().description("A key.")),
//!         )
//!         .max_items(1),
//!     );
//! assert!(schema.check().is_empty());
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::plan_modifiers::PlanModifier;
use crate::types::Type;
use crate::validators::Validator;
use crate::value::Value;

/// A versioned schema: the root block of a resource, data source or provider configuration.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

/// A set of attributes and nested blocks.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, NestedBlock>,
    pub description: Description,
    pub deprecated: bool,
}

/// Plain and Markdown descriptions; Terraform receives the Markdown one when it is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    pub plain: String,
    pub markdown: String,
}

/// What an attribute holds: a value of a type, or nested attributes.
#[derive(Clone, Debug)]
pub enum AttributeType {
    Type(Type),
    Nested(NestedAttributes),
}

/// How nested attributes or nested blocks repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    /// Blocks only: a single block that is never null (its attributes may be).
    Group,
}

/// The attributes of a nested attribute (`Attribute::single_nested` and friends).
#[derive(Clone, Debug)]
pub struct NestedAttributes {
    pub nesting: Nesting,
    pub attributes: BTreeMap<String, Attribute>,
}

/// One attribute with its flags, documentation and plan-time behaviour.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub ty: AttributeType,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// Never stored in state or plan: only the configuration carries it (Terraform ≥ 1.11).
    pub write_only: bool,
    pub description: Description,
    /// Deprecation message; empty when not deprecated.
    pub deprecation: String,
    pub validators: Vec<Arc<dyn Validator>>,
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
    /// Planned when the configuration leaves the attribute null (needs `computed`).
    pub default: Option<Value>,
}

/// A nested block: `block_name { … }`.
#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

impl Schema {
    pub fn new() -> Schema {
        Schema::default()
    }

    /// Sets the schema version (bump it when stored state needs upgrading).
    #[must_use]
    pub fn version(mut self, version: i64) -> Schema {
        self.version = version;
        self
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Schema {
        self.block = self.block.description(text);
        self
    }

    #[must_use]
    pub fn markdown_description(mut self, text: impl Into<String>) -> Schema {
        self.block = self.block.markdown_description(text);
        self
    }

    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>, attribute: Attribute) -> Schema {
        self.block = self.block.attribute(name, attribute);
        self
    }

    #[must_use]
    pub fn block(mut self, name: impl Into<String>, block: NestedBlock) -> Schema {
        self.block = self.block.block(name, block);
        self
    }

    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    /// Mistakes in the schema itself (e.g. an attribute that is neither required, optional nor
    /// computed). Empty when the schema is sound; tests should assert that.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.block.check("", &mut problems);
        problems
    }
}

impl Block {
    pub fn new() -> Block {
        Block::default()
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Block {
        self.description.plain = text.into();
        self
    }

    #[must_use]
    pub fn markdown_description(mut self, text: impl Into<String>) -> Block {
        self.description.markdown = text.into();
        self
    }

    #[must_use]
    pub fn deprecated(mut self) -> Block {
        self.deprecated = true;
        self
    }

    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>, attribute: Attribute) -> Block {
        self.attributes.insert(name.into(), attribute);
        self
    }

    #[must_use]
    pub fn block(mut self, name: impl Into<String>, block: NestedBlock) -> Block {
        self.blocks.insert(name.into(), block);
        self
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let attrs = self
            .attributes
            .iter()
            .map(|(n, a)| (n.clone(), a.value_type()))
            .chain(self.blocks.iter().map(|(n, b)| (n.clone(), b.value_type())));
        Type::object(attrs)
    }

    fn check(&self, prefix: &str, problems: &mut Vec<String>) {
        for (name, attribute) in &self.attributes {
            attribute.check(&format!("{prefix}{name}"), problems);
        }
        for (name, nested) in &self.blocks {
            if self.attributes.contains_key(name) {
                problems.push(format!("{prefix}{name}: both an attribute and a block"));
            }
            nested.block.check(&format!("{prefix}{name}."), problems);
        }
    }
}

impl Attribute {
    /// An attribute holding a value of `ty`. Set one of `required`, `optional`, `computed`.
    pub fn of_type(ty: Type) -> Attribute {
        Attribute {
            ty: AttributeType::Type(ty),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            description: Description::default(),
            deprecation: String::new(),
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
            default: None,
        }
    }

    pub fn string() -> Attribute {
        Attribute::of_type(Type::String)
    }

    pub fn bool() -> Attribute {
        Attribute::of_type(Type::Bool)
    }

    pub fn number() -> Attribute {
        Attribute::of_type(Type::Number)
    }

    /// A number attribute meant to hold whole numbers (Terraform has one number type; read it
    /// into an `i64` field).
    pub fn int64() -> Attribute {
        Attribute::of_type(Type::Number)
    }

    pub fn dynamic() -> Attribute {
        Attribute::of_type(Type::Dynamic)
    }

    pub fn list(element: Type) -> Attribute {
        Attribute::of_type(Type::list(element))
    }

    pub fn set(element: Type) -> Attribute {
        Attribute::of_type(Type::set(element))
    }

    pub fn map(element: Type) -> Attribute {
        Attribute::of_type(Type::map(element))
    }

    fn nested<K: Into<String>>(
        nesting: Nesting,
        attributes: impl IntoIterator<Item = (K, Attribute)>,
    ) -> Attribute {
        let mut a = Attribute::of_type(Type::Dynamic);
        a.ty = AttributeType::Nested(NestedAttributes {
            nesting,
            attributes: attributes.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        });
        a
    }

    /// One nested object: `attr = { a = 1, b = 2 }`.
    pub fn single_nested<K: Into<String>>(
        attributes: impl IntoIterator<Item = (K, Attribute)>,
    ) -> Attribute {
        Attribute::nested(Nesting::Single, attributes)
    }

    pub fn list_nested<K: Into<String>>(
        attributes: impl IntoIterator<Item = (K, Attribute)>,
    ) -> Attribute {
        Attribute::nested(Nesting::List, attributes)
    }

    pub fn set_nested<K: Into<String>>(
        attributes: impl IntoIterator<Item = (K, Attribute)>,
    ) -> Attribute {
        Attribute::nested(Nesting::Set, attributes)
    }

    pub fn map_nested<K: Into<String>>(
        attributes: impl IntoIterator<Item = (K, Attribute)>,
    ) -> Attribute {
        Attribute::nested(Nesting::Map, attributes)
    }

    #[must_use]
    pub fn required(mut self) -> Attribute {
        self.required = true;
        self
    }

    #[must_use]
    pub fn optional(mut self) -> Attribute {
        self.optional = true;
        self
    }

    /// Set by the provider. Combine with `optional()` for "user may set it, else we compute it".
    #[must_use]
    pub fn computed(mut self) -> Attribute {
        self.computed = true;
        self
    }

    /// Hidden in plan output and UI.
    #[must_use]
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Accepted in configuration, never stored in plan or state.
    #[must_use]
    pub fn write_only(mut self) -> Attribute {
        self.write_only = true;
        self
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Attribute {
        self.description.plain = text.into();
        self
    }

    #[must_use]
    pub fn markdown_description(mut self, text: impl Into<String>) -> Attribute {
        self.description.markdown = text.into();
        self
    }

    /// Marks the attribute deprecated; Terraform warns when it is set.
    #[must_use]
    pub fn deprecated(mut self, message: impl Into<String>) -> Attribute {
        self.deprecation = message.into();
        self
    }

    #[must_use]
    pub fn validator(mut self, validator: impl Validator + 'static) -> Attribute {
        self.validators.push(Arc::new(validator));
        self
    }

    #[must_use]
    pub fn plan_modifier(mut self, modifier: impl PlanModifier + 'static) -> Attribute {
        self.plan_modifiers.push(Arc::new(modifier));
        self
    }

    /// The value planned when the configuration leaves the attribute null. Implies `computed`.
    #[must_use]
    pub fn default(mut self, value: impl Into<Value>) -> Attribute {
        self.default = Some(value.into());
        self.computed = true;
        self
    }

    /// The type of this attribute's values.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Type(t) => t.clone(),
            AttributeType::Nested(n) => {
                let object = Type::object(
                    n.attributes
                        .iter()
                        .map(|(k, a)| (k.clone(), a.value_type())),
                );
                wrap(n.nesting, object)
            }
        }
    }

    fn check(&self, name: &str, problems: &mut Vec<String>) {
        match (self.required, self.optional, self.computed) {
            (true, false, false) | (false, true, _) | (false, false, true) => {}
            _ => problems.push(format!(
                "{name}: must be required, optional, computed, or optional+computed"
            )),
        }
        if self.write_only && self.computed {
            problems.push(format!("{name}: write-only attributes cannot be computed"));
        }
        if self.default.is_some() && self.required {
            problems.push(format!(
                "{name}: a required attribute cannot have a default"
            ));
        }
        if self.description.plain.is_empty() && self.description.markdown.is_empty() {
            problems.push(format!("{name}: no description"));
        }
        if let AttributeType::Nested(n) = &self.ty {
            if n.nesting == Nesting::Group {
                problems.push(format!("{name}: group nesting is for blocks only"));
            }
            for (child, a) in &n.attributes {
                a.check(&format!("{name}.{child}"), problems);
            }
        }
    }
}

impl NestedBlock {
    pub fn new(nesting: Nesting, block: Block) -> NestedBlock {
        NestedBlock {
            nesting,
            block,
            min_items: 0,
            max_items: 0,
        }
    }

    /// At most one block; its value is an object or null.
    pub fn single(block: Block) -> NestedBlock {
        NestedBlock::new(Nesting::Single, block)
    }

    /// Repeated blocks; the value is a list of objects. Use `max_items(1)` for the classic
    /// "optional single block" spelling (`kubernetes { … }` in hashicorp providers).
    pub fn list(block: Block) -> NestedBlock {
        NestedBlock::new(Nesting::List, block)
    }

    pub fn set(block: Block) -> NestedBlock {
        NestedBlock::new(Nesting::Set, block)
    }

    /// Labelled blocks: `name "label" { … }`.
    pub fn map(block: Block) -> NestedBlock {
        NestedBlock::new(Nesting::Map, block)
    }

    /// A single block whose value is never null.
    pub fn group(block: Block) -> NestedBlock {
        NestedBlock::new(Nesting::Group, block)
    }

    #[must_use]
    pub fn min_items(mut self, n: i64) -> NestedBlock {
        self.min_items = n;
        self
    }

    #[must_use]
    pub fn max_items(mut self, n: i64) -> NestedBlock {
        self.max_items = n;
        self
    }

    pub fn value_type(&self) -> Type {
        wrap(self.nesting, self.block.value_type())
    }
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::list(object),
        Nesting::Set => Type::set(object),
        Nesting::Map => Type::map(object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_covers_attributes_nested_attributes_and_blocks() {
        let schema = Schema::new()
            .attribute("name", Attribute::string().required().description("n"))
            .attribute(
                "env",
                Attribute::map_nested([("value", Attribute::string().optional().description("v"))])
                    .optional()
                    .description("e"),
            )
            .block(
                "rule",
                NestedBlock::set(
                    Block::new().attribute("port", Attribute::int64().required().description("p")),
                ),
            );
        assert_eq!(
            schema.value_type(),
            Type::object([
                ("env", Type::map(Type::object([("value", Type::String)]))),
                ("name", Type::String),
                ("rule", Type::set(Type::object([("port", Type::Number)]))),
            ])
        );
        assert!(schema.check().is_empty(), "{:?}", schema.check());
    }

    #[test]
    fn check_reports_unsound_attributes() {
        let schema = Schema::new()
            .attribute("a", Attribute::string())
            .attribute(
                "b",
                Attribute::string().required().optional().description("x"),
            )
            .attribute(
                "c",
                Attribute::string()
                    .optional()
                    .computed()
                    .write_only()
                    .description("x"),
            );
        let problems = schema.check();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("c: write-only")));
    }

    #[test]
    fn default_implies_computed() {
        let a = Attribute::bool().optional().default(false);
        assert!(a.computed && a.optional);
    }
}
