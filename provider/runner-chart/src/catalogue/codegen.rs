//! Generates `generated.rs` from `data/runner-config-keys.tsv` (test-only code).
//!
//! Rules beyond the TSV's own columns, all stated here:
//! - a row whose type names a child section that exists (`table (see runners.cache)`, `KubernetesVolumes`,
//!   `[]Service`, ...) becomes a table, or an array of tables when the Go type is a slice or the child's
//!   rows say `array of tables`;
//! - `table (a, b c)` rows define a child section with those keys (`b c` = key `b` of type `c`);
//! - a section with no row in its parent (`runners.cache.s3`, the volume kinds) becomes a key of the
//!   parent: volume kinds are arrays of tables (the runner keeps a list per kind), others tables;
//! - the root holds `[[runners]]`;
//! - rows listing several keys (`name, mount_path, read_only`) give each key a kind by name (see
//!   `kind_by_key_name`), because the TSV lumps their types together.

use std::collections::BTreeSet;
use std::fmt::Write as _;

const ROOT: &str = "global";
const RUNNERS: &str = "runners";
const VOLUMES: &str = "runners.kubernetes.volumes";

#[derive(Debug)]
struct Row<'a> {
    line: usize,
    section: &'a str,
    key: &'a str,
    declared_type: &'a str,
    secret: &'a str,
}

#[derive(Debug, Clone)]
struct KeyDef {
    name: String,
    kind: String,
    secrecy: &'static str,
    declared_type: String,
}

#[derive(Debug, Default)]
struct Sections(Vec<(String, Vec<KeyDef>)>);

impl Sections {
    fn entry(&mut self, path: &str) -> &mut Vec<KeyDef> {
        let position = match self.0.iter().position(|(existing, _)| existing == path) {
            Some(position) => position,
            None => {
                self.0.push((path.to_owned(), Vec::new()));
                self.0.len() - 1
            }
        };
        &mut self.0[position].1
    }

    fn has_key(&self, path: &str, key: &str) -> bool {
        self.0
            .iter()
            .any(|(existing, keys)| existing == path && keys.iter().any(|k| k.name == key))
    }
}

fn child_path(section: &str, key: &str) -> String {
    if section == ROOT {
        key.to_owned()
    } else {
        format!("{section}.{key}")
    }
}

fn parent_and_key(path: &str) -> (&str, &str) {
    match path.rsplit_once('.') {
        Some((parent, key)) => (parent, key),
        None => (ROOT, path),
    }
}

fn parse_rows(tsv: &str) -> Result<Vec<Row<'_>>, String> {
    let mut rows = Vec::new();
    for (index, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(section), Some(key), Some(declared_type)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!(
                "line {}: expected at least 3 tab-separated fields",
                index + 1
            ));
        };
        let secret = fields.next().unwrap_or("").trim();
        rows.push(Row {
            line: index + 1,
            section: section.trim(),
            key: key.trim(),
            declared_type: declared_type.trim(),
            secret,
        });
    }
    Ok(rows)
}

fn secrecy(flag: &str, line: usize) -> Result<&'static str, String> {
    match flag {
        "" => Ok("Plain"),
        "maybe" => Ok("MayHoldSecret"),
        "yes" => Ok("Secret"),
        other => Err(format!("line {line}: unknown secret flag {other:?}")),
    }
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    format!("&[{}]", quoted.join(", "))
}

/// `(a|b|c)` or `("" or Memory)` after a type word → the allowed values.
fn enum_values(parenthesised: &str) -> Option<Vec<&str>> {
    let inner = parenthesised.strip_prefix('(')?.strip_suffix(')')?;
    let values: Vec<&str> = if inner.contains('|') {
        inner.split('|').map(str::trim).collect()
    } else if inner.contains(" or ") {
        inner
            .split(" or ")
            .map(|v| v.trim().trim_matches('"'))
            .collect()
    } else {
        return None;
    };
    Some(values)
}

fn integer_min(declared: &str) -> Option<i64> {
    if declared.contains("(>0)") || declared.contains("(>=1)") {
        Some(1)
    } else {
        None
    }
}

/// The kind of a single-key row.
fn classify(
    row: &Row<'_>,
    child_sections: &BTreeSet<String>,
    array_sections: &BTreeSet<String>,
) -> Result<String, String> {
    let declared = row.declared_type;
    let child = child_path(row.section, row.key);
    if let Some(target) = declared
        .strip_prefix("table (see ")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return Ok(format!("ValueKind::Table({target:?})"));
    }
    if child_sections.contains(&child) {
        return Ok(
            if declared.starts_with("[]") || array_sections.contains(&child) {
                format!("ValueKind::ArrayOfTables({child:?})")
            } else {
                format!("ValueKind::Table({child:?})")
            },
        );
    }
    let first_word = declared.split_whitespace().next().unwrap_or("");
    let rest = declared[first_word.len()..].trim();
    let kind = match first_word {
        "int" | "*int64" | "RequestRetryLimit" | "RequestRetryBackoffMax" => {
            match integer_min(declared) {
                Some(min) => format!("ValueKind::Integer {{ min: Some({min}) }}"),
                None => "ValueKind::Integer { min: None }".to_owned(),
            }
        }
        "bool" | "*bool" => "ValueKind::Bool".to_owned(),
        "duration" | "*time.Duration" => "ValueKind::Duration".to_owned(),
        "datetime" => "ValueKind::DateTime".to_owned(),
        "string" | "*string" | "KubernetesDNSPolicy" => match enum_values(rest) {
            Some(values) => format!("ValueKind::Enum({})", quoted_list(&values)),
            None => "ValueKind::String".to_owned(),
        },
        "[]string" | "[]DockerPullPolicy" => "ValueKind::StringArray".to_owned(),
        "array" if declared.contains("strings") => "ValueKind::StringArray".to_owned(),
        "StringOrArray" => "ValueKind::StringOrStringArray".to_owned(),
        "map[string]string" => "ValueKind::StringMap".to_owned(),
        "table" if declared == "table string->string" => "ValueKind::StringMap".to_owned(),
        "table" if declared == "table string->bool" => "ValueKind::BoolMap".to_owned(),
        "KubernetesAffinity"
        | "KubernetesPodSecurityContext"
        | "KubernetesContainerSecurityContext"
        | "KubernetesContainerLifecyle"
        | "RequestRetryLimits" => "ValueKind::OpaqueTable".to_owned(),
        _ => {
            return Err(format!(
                "line {}: cannot classify type {declared:?} of {}.{}",
                row.line, row.section, row.key
            ));
        }
    };
    Ok(kind)
}

/// Kinds for keys listed together in one row (their declared type is a lump like `string/bool/table`).
fn kind_by_key_name(name: &str, annotation: &str) -> String {
    if let Some(values) = enum_values(annotation) {
        return format!("ValueKind::Enum({})", quoted_list(&values));
    }
    match (name, annotation) {
        (_, "bool") | ("read_only" | "enabled", _) => "ValueKind::Bool".to_owned(),
        ("items" | "volume_attributes", _) => "ValueKind::StringMap".to_owned(),
        (
            "command" | "entrypoint" | "environment" | "hostnames" | "nameservers" | "searches",
            _,
        ) => "ValueKind::StringArray".to_owned(),
        ("options", _) => "ValueKind::OpaqueArrayOfTables".to_owned(),
        ("session_timeout", _) => "ValueKind::Integer { min: None }".to_owned(),
        _ => "ValueKind::String".to_owned(),
    }
}

/// `name, alias, patch_type (json|merge)` or `enabled bool` → (name, annotation) pairs.
fn split_key_list(list: &str) -> Vec<(&str, &str)> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once(' ') {
            Some((name, annotation)) => (name.trim(), annotation.trim()),
            None => (entry, ""),
        })
        .collect()
}

fn inline_table_keys(declared: &str) -> Option<&str> {
    let inner = declared.strip_prefix("table (")?.strip_suffix(')')?;
    (!inner.starts_with("see ")).then_some(inner)
}

/// Generates the Rust source of the catalogue from the TSV text.
pub(super) fn generate(tsv: &str) -> Result<String, String> {
    let rows = parse_rows(tsv)?;

    // Which child sections exist, and which of them are arrays of tables.
    let mut child_sections = BTreeSet::new();
    let mut array_sections = BTreeSet::new();
    for row in &rows {
        let mut path = row.section;
        while path != ROOT {
            child_sections.insert(path.to_owned());
            path = match path.rsplit_once('.') {
                Some((parent, _)) => parent,
                None => ROOT,
            };
        }
        if row.declared_type.contains("array of tables") {
            array_sections.insert(row.section.to_owned());
        }
        if inline_table_keys(row.declared_type).is_some() {
            child_sections.insert(child_path(row.section, row.key));
        }
    }
    // `[[runners]]`: the runner list is an array of tables.
    array_sections.insert(RUNNERS.to_owned());
    for section in &child_sections {
        if section.starts_with(&format!("{VOLUMES}.")) {
            array_sections.insert(section.clone());
        }
    }

    let mut sections = Sections::default();
    sections.entry(ROOT);
    for row in &rows {
        let secrecy = secrecy(row.secret, row.line)?;
        if row.key.contains(',') {
            for (name, annotation) in split_key_list(row.key) {
                sections.entry(row.section).push(KeyDef {
                    name: name.to_owned(),
                    kind: kind_by_key_name(name, annotation),
                    secrecy,
                    declared_type: row.declared_type.to_owned(),
                });
            }
            continue;
        }
        let kind = classify(row, &child_sections, &array_sections)?;
        sections.entry(row.section).push(KeyDef {
            name: row.key.to_owned(),
            kind,
            secrecy,
            declared_type: row.declared_type.to_owned(),
        });
        if let Some(list) = inline_table_keys(row.declared_type) {
            let child = child_path(row.section, row.key);
            for (name, annotation) in split_key_list(list) {
                sections.entry(&child).push(KeyDef {
                    name: name.to_owned(),
                    kind: kind_by_key_name(name, annotation),
                    secrecy: "Plain",
                    declared_type: if annotation.is_empty() {
                        row.declared_type.to_owned()
                    } else {
                        annotation.to_owned()
                    },
                });
            }
        }
    }

    // Child sections without a row in their parent become keys of the parent.
    for child in &child_sections {
        let (parent, key) = parent_and_key(child);
        if sections.has_key(parent, key) {
            continue;
        }
        let (kind, declared) = if array_sections.contains(child) {
            (
                format!("ValueKind::ArrayOfTables({child:?})"),
                "array of tables",
            )
        } else {
            (format!("ValueKind::Table({child:?})"), "table")
        };
        sections.entry(parent).push(KeyDef {
            name: key.to_owned(),
            kind,
            secrecy: "Plain",
            declared_type: declared.to_owned(),
        });
    }

    let mut out = String::new();
    out.push_str("// @generated from data/runner-config-keys.tsv by src/catalogue/codegen.rs.\n");
    out.push_str("// Do not edit: run `REGENERATE_CATALOGUE=1 cargo test -p gitlab-runner-chart catalogue_source_is_up_to_date`.\n\n");
    out.push_str("use super::{KeySpec, SectionSpec, Secrecy, ValueKind};\n\n");
    out.push_str("pub(super) static SECTIONS: &[SectionSpec] = &[\n");
    for (path, keys) in &sections.0 {
        let _ = writeln!(out, "    SectionSpec {{ path: {path:?}, keys: &[");
        for key in keys {
            let _ = writeln!(
                out,
                "        KeySpec {{ name: {:?}, kind: {}, secrecy: Secrecy::{}, declared_type: {:?} }},",
                key.name, key.kind, key.secrecy, key.declared_type
            );
        }
        out.push_str("    ] },\n");
    }
    out.push_str("];\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::generate;

    const TSV: &str = include_str!("../../data/runner-config-keys.tsv");
    const GENERATED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/catalogue/generated.rs");

    #[test]
    fn catalogue_source_is_up_to_date() {
        let expected = generate(TSV).expect("the TSV classifies");
        if std::env::var_os("REGENERATE_CATALOGUE").is_some() {
            std::fs::write(GENERATED_PATH, &expected).expect("write generated.rs");
        }
        let actual = std::fs::read_to_string(GENERATED_PATH).expect("read generated.rs");
        assert!(
            actual == expected,
            "src/catalogue/generated.rs is stale: run REGENERATE_CATALOGUE=1 cargo test -p gitlab-runner-chart catalogue_source_is_up_to_date"
        );
    }

    #[test]
    fn unknown_types_are_refused() {
        let tsv = "section\tkey\ttype\tsecret\nrunners\tweird\tSomethingNew\t\n";
        let error = generate(tsv).expect_err("unclassifiable type");
        assert!(error.contains("SomethingNew"), "{error}");
    }

    #[test]
    fn unknown_secret_flags_are_refused() {
        let tsv = "section\tkey\ttype\tsecret\nrunners\tname\tstring\tperhaps\n";
        assert!(generate(tsv).is_err());
    }
}
