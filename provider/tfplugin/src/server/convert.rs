//! Conversions between the framework's types and the generated protocol types. The only place
//! that knows both.

use crate::codec::{json, msgpack};
use crate::diagnostics::{Diagnostic, Diagnostics, Severity};
use crate::function::{FunctionDefinition, Parameter};
use crate::path::{AttributePath, PathStep};
use crate::proto::tfplugin6 as pb;
use crate::schema::{Attribute, AttributeType, Block, Description, NestedBlock, Nesting, Schema};
use crate::types::Type;
use crate::value::Value;

pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.attribute.as_ref().map(attribute_path),
    }
}

pub fn diagnostics(ds: &Diagnostics) -> Vec<pb::Diagnostic> {
    ds.iter().map(diagnostic).collect()
}

pub fn attribute_path(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: path
            .steps()
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attribute(n) => Selector::AttributeName(n.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// Decodes a DynamicValue (msgpack preferred, JSON accepted; empty means null).
pub fn decode_dynamic(
    ty: &Type,
    dv: Option<&pb::DynamicValue>,
    what: &str,
) -> Result<Value, Diagnostic> {
    let Some(dv) = dv else {
        return Ok(Value::Null);
    };
    let decoded = if !dv.msgpack.is_empty() {
        msgpack::decode(ty, &dv.msgpack)
    } else if !dv.json.is_empty() {
        json::decode_bytes(ty, &dv.json, json::UnknownAttributes::Reject).map(|(v, _)| v)
    } else {
        return Ok(Value::Null);
    };
    decoded.map_err(|e| {
        Diagnostic::error(
            "Invalid Value From Terraform",
            format!("The {what} sent by Terraform does not match the provider's schema: {e}. This may be a version mismatch between Terraform and the provider."),
        )
    })
}

/// Encodes a value as a msgpack DynamicValue.
pub fn encode_dynamic(ty: &Type, value: &Value) -> Result<pb::DynamicValue, Diagnostic> {
    msgpack::encode(ty, value)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider Bug: Cannot Encode Value",
                format!("{e}. Please report this issue to the provider developers."),
            )
        })
}

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block, s.version)),
    }
}

fn description(d: &Description) -> (String, i32) {
    if d.markdown.is_empty() {
        (d.plain.clone(), pb::StringKind::Plain as i32)
    } else {
        (d.markdown.clone(), pb::StringKind::Markdown as i32)
    }
}

fn block(b: &Block, version: i64) -> pb::schema::Block {
    let (text, kind) = description(&b.description);
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(|(n, a)| attribute(n, a)).collect(),
        block_types: b.blocks.iter().map(|(n, nb)| nested_block(n, nb)).collect(),
        description: text,
        description_kind: kind,
        deprecated: b.deprecated,
    }
}

fn attribute(name: &str, a: &Attribute) -> pb::schema::Attribute {
    let (text, kind) = description(&a.description);
    let (ty, nested_type) = match &a.ty {
        AttributeType::Type(t) => (t.to_json_bytes(), None),
        AttributeType::Nested(n) => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: n.attributes.iter().map(|(k, a)| attribute(k, a)).collect(),
                nesting: object_nesting(n.nesting) as i32,
                ..Default::default()
            }),
        ),
    };
    let detail = if a.deprecation.is_empty() {
        text
    } else if text.is_empty() {
        format!("Deprecated: {}", a.deprecation)
    } else {
        format!("{text} Deprecated: {}", a.deprecation)
    };
    pb::schema::Attribute {
        name: name.to_owned(),
        r#type: ty,
        nested_type,
        description: detail,
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: kind,
        deprecated: !a.deprecation.is_empty(),
        write_only: a.write_only,
    }
}

fn object_nesting(n: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

fn nested_block(name: &str, nb: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    pb::schema::NestedBlock {
        type_name: name.to_owned(),
        block: Some(block(&nb.block, 0)),
        nesting: match nb.nesting {
            Nesting::Single => M::Single,
            Nesting::List => M::List,
            Nesting::Set => M::Set,
            Nesting::Map => M::Map,
            Nesting::Group => M::Group,
        } as i32,
        min_items: nb.min_items,
        max_items: nb.max_items,
    }
}

pub fn function(f: &FunctionDefinition) -> pb::Function {
    pb::Function {
        parameters: f.parameters.iter().map(parameter).collect(),
        variadic_parameter: f.variadic.as_ref().map(parameter),
        r#return: Some(pb::function::Return {
            r#type: f.return_type.to_json_bytes(),
        }),
        summary: f.summary.clone(),
        description: f.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: f.deprecation.clone(),
    }
}

fn parameter(p: &Parameter) -> pb::function::Parameter {
    pb::function::Parameter {
        name: p.name.clone(),
        r#type: p.ty.to_json_bytes(),
        allow_null_value: p.allow_null,
        allow_unknown_values: p.allow_unknown,
        description: p.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_conversion_keeps_flags_types_and_nesting() {
        let s = Schema::new()
            .version(2)
            .attribute(
                "token",
                Attribute::string()
                    .optional()
                    .sensitive()
                    .write_only()
                    .description("t"),
            )
            .attribute(
                "env",
                Attribute::list_nested([("name", Attribute::string().required().description("n"))])
                    .optional()
                    .markdown_description("`env`"),
            )
            .block("kubernetes", NestedBlock::list(Block::new()).max_items(1));
        let pb = schema(&s);
        assert_eq!(pb.version, 2);
        let b = pb.block.unwrap();
        let token = b.attributes.iter().find(|a| a.name == "token").unwrap();
        assert_eq!(token.r#type, b"\"string\"");
        assert!(token.sensitive && token.write_only && token.optional && !token.required);
        let env = b.attributes.iter().find(|a| a.name == "env").unwrap();
        assert!(env.r#type.is_empty());
        assert_eq!(env.description_kind, pb::StringKind::Markdown as i32);
        let nested = env.nested_type.as_ref().unwrap();
        assert_eq!(nested.nesting, pb::schema::object::NestingMode::List as i32);
        assert_eq!(b.block_types[0].type_name, "kubernetes");
        assert_eq!(b.block_types[0].max_items, 1);
    }

    #[test]
    fn diagnostic_paths_become_protocol_steps() {
        let d = Diagnostic::error("S", "D").at(AttributePath::new("a").index(2).key("k"));
        let pb = diagnostic(&d);
        assert_eq!(pb.severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(pb.attribute.unwrap().steps.len(), 3);
    }
}
