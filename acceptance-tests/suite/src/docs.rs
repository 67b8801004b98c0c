//! Registry-layout documentation generated from the provider's schema.
//!
//! The input is what `terraform providers schema -json` prints, so the descriptions live once, in
//! the provider's code. Examples come from `examples/` (registry convention:
//! `examples/resources/<type>/resource.tf` and `import.sh`, `examples/provider/provider.tf`,
//! `examples/functions/<name>/function.tf`); hand-written guides stay under `docs/guides/`.
//! `docs/index.md` is rendered from the template `docs/templates/index.md.tmpl`, whose
//! `{{ .SchemaMarkdown }}` and `{{ .Example }}` placeholders are filled in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One generated file: its path relative to the repository root and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("the schema JSON has no provider {0}")]
    MissingProvider(String),
    /// The cause is part of the message (callers print it as text), so not also the `source()`.
    #[error("reading {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Renders every generated page for `provider_address` from the schema JSON, reading examples
/// and templates below `repo_root`.
pub fn render_all(
    schema_json: &Value,
    provider_address: &str,
    repo_root: &Path,
) -> Result<Vec<GeneratedFile>, DocsError> {
    let schemas = schema_json["provider_schemas"]
        .get(provider_address)
        .ok_or_else(|| DocsError::MissingProvider(provider_address.to_string()))?;
    let provider_name = provider_address
        .rsplit('/')
        .next()
        .unwrap_or(provider_address);
    let mut files = Vec::new();

    let template_path = repo_root.join("docs/templates/index.md.tmpl");
    let template = read_optional(&template_path)?.unwrap_or_else(|| {
        format!("# {provider_name} Provider\n\n## Example Usage\n\n{{{{ .Example }}}}\n\n{{{{ .SchemaMarkdown }}}}\n")
    });
    let example = read_optional(&repo_root.join("examples/provider/provider.tf"))?
        .map(|tf| fenced("terraform", &tf))
        .unwrap_or_default();
    let schema_md = render_block_doc(&schemas["provider"]["block"]);
    files.push(GeneratedFile {
        path: PathBuf::from("docs/index.md"),
        contents: normalize(
            &template
                .replace("{{ .Example }}", example.trim_end())
                .replace("{{ .SchemaMarkdown }}", schema_md.trim_end()),
        ),
    });

    for (type_name, schema) in sorted(&schemas["resource_schemas"]) {
        let short = type_name
            .strip_prefix(&format!("{provider_name}_"))
            .unwrap_or(type_name);
        let dir = repo_root.join("examples/resources").join(type_name);
        let mut page = front_matter(
            &format!("{type_name} Resource - {provider_name}"),
            "",
            block_description(&schema["block"]),
        );
        let _ = writeln!(page, "# {type_name} (Resource)\n");
        push_description(&mut page, &schema["block"]);
        if let Some(tf) = read_optional(&dir.join("resource.tf"))? {
            let _ = writeln!(page, "## Example Usage\n\n{}\n", fenced("terraform", &tf));
        }
        page.push_str(&render_block_doc(&schema["block"]));
        if let Some(sh) = read_optional(&dir.join("import.sh"))? {
            let _ = writeln!(
                page,
                "\n## Import\n\nImport is supported using the following syntax:\n\n{}",
                fenced("shell", &sh)
            );
        }
        files.push(GeneratedFile {
            path: PathBuf::from(format!("docs/resources/{short}.md")),
            contents: normalize(&page),
        });
    }

    for (type_name, schema) in sorted(&schemas["data_source_schemas"]) {
        let short = type_name
            .strip_prefix(&format!("{provider_name}_"))
            .unwrap_or(type_name);
        let mut page = front_matter(
            &format!("{type_name} Data Source - {provider_name}"),
            "",
            block_description(&schema["block"]),
        );
        let _ = writeln!(page, "# {type_name} (Data Source)\n");
        push_description(&mut page, &schema["block"]);
        page.push_str(&render_block_doc(&schema["block"]));
        files.push(GeneratedFile {
            path: PathBuf::from(format!("docs/data-sources/{short}.md")),
            contents: normalize(&page),
        });
    }

    for (name, function) in sorted(&schemas["functions"]) {
        files.push(GeneratedFile {
            path: PathBuf::from(format!("docs/functions/{name}.md")),
            contents: normalize(&render_function(provider_name, name, function, repo_root)?),
        });
    }
    Ok(files)
}

/// The generated files that differ from what is on disk (stale or missing).
pub fn stale_files(repo_root: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| {
            fs::read_to_string(repo_root.join(&f.path)).ok().as_deref() != Some(f.contents.as_str())
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Writes the generated files below `repo_root`.
pub fn write_all(repo_root: &Path, files: &[GeneratedFile]) -> std::io::Result<()> {
    for f in files {
        let path = repo_root.join(&f.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, &f.contents)?;
    }
    Ok(())
}

fn render_function(
    provider_name: &str,
    name: &str,
    function: &Value,
    repo_root: &Path,
) -> Result<String, DocsError> {
    let summary = function["summary"].as_str().unwrap_or_default();
    let mut page = front_matter(&format!("{name} function - {provider_name}"), "", summary);
    let _ = writeln!(page, "# function: {name}\n");
    if let Some(d) = function["description"].as_str().filter(|d| !d.is_empty()) {
        let _ = writeln!(page, "{d}\n");
    }
    let example_path = repo_root.join(format!("examples/functions/{name}/function.tf"));
    if let Some(tf) = read_optional(&example_path)? {
        let _ = writeln!(page, "## Example Usage\n\n{}\n", fenced("terraform", &tf));
    }
    let params: Vec<&Value> = function["parameters"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let signature_params: Vec<String> = params
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap_or("arg"),
                type_name(&p["type"])
            )
        })
        .collect();
    let _ = writeln!(
        page,
        "## Signature\n\n```text\n{name}({}) {}\n```\n",
        signature_params.join(", "),
        type_name(&function["return_type"])
    );
    if !params.is_empty() {
        let _ = writeln!(page, "## Arguments\n");
        for (i, p) in params.iter().enumerate() {
            let _ = writeln!(
                page,
                "{}. `{}` ({}) {}",
                i + 1,
                p["name"].as_str().unwrap_or("arg"),
                type_name(&p["type"]),
                p["description"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(page)
}

fn front_matter(title: &str, subcategory: &str, description: &str) -> String {
    let mut out = String::from("---\n");
    let _ = writeln!(out, "page_title: \"{title}\"");
    let _ = writeln!(out, "subcategory: \"{subcategory}\"");
    let _ = writeln!(
        out,
        "description: |-\n  {}",
        description.trim().replace('\n', "\n  ")
    );
    out.push_str("---\n\n");
    out
}

fn block_description(block: &Value) -> &str {
    block["description"].as_str().unwrap_or_default()
}

fn push_description(page: &mut String, block: &Value) {
    let d = block_description(block).trim();
    if !d.is_empty() {
        let _ = writeln!(page, "{d}\n");
    }
}

/// The `## Schema` section for a block, then one `### Nested Schema` per nested block/attribute.
fn render_block_doc(block: &Value) -> String {
    let mut out = String::from("## Schema\n");
    let mut nested: Vec<(String, Value)> = Vec::new();
    render_block_items(&mut out, block, "", &mut nested);
    let mut i = 0;
    while i < nested.len() {
        let (anchor, nested_block) = nested[i].clone();
        let _ = writeln!(
            out,
            "\n<a id=\"nestedblock--{anchor}\"></a>\n### Nested Schema for `{}`\n",
            anchor.replace("--", ".")
        );
        render_block_items(&mut out, &nested_block, &format!("{anchor}--"), &mut nested);
        i += 1;
    }
    out
}

fn render_block_items(
    out: &mut String,
    block: &Value,
    prefix: &str,
    nested: &mut Vec<(String, Value)>,
) {
    let mut groups: BTreeMap<u8, Vec<String>> = BTreeMap::new();
    for (name, attr) in sorted(&block["attributes"]) {
        let group = attribute_group(attr);
        let mut line = format!("- `{name}` ({}", attribute_type(attr));
        if attr["sensitive"].as_bool() == Some(true) {
            line.push_str(", Sensitive");
        }
        if attr["write_only"].as_bool() == Some(true) {
            line.push_str(", [Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments)");
        }
        if attr["deprecated"].as_bool() == Some(true) {
            line.push_str(", Deprecated");
        }
        line.push(')');
        let desc = attr["description"].as_str().unwrap_or_default().trim();
        if !desc.is_empty() {
            let _ = write!(line, " {}", desc.replace('\n', " "));
        }
        if let Some(nested_type) = attr.get("nested_type") {
            let anchor = format!("{prefix}{name}");
            let _ = write!(
                line,
                " (see [below for nested schema](#nestedblock--{anchor}))"
            );
            nested.push((anchor, nested_type.clone()));
        }
        groups.entry(group).or_default().push(line);
    }
    for (name, block_type) in sorted(&block["block_types"]) {
        let min = block_type["min_items"].as_u64().unwrap_or(0);
        let group = if min > 0 { 0 } else { 1 };
        let label = nesting_label(block_type["nesting_mode"].as_str().unwrap_or("single"));
        let mut line = if label.is_empty() {
            format!("- `{name}` (Block")
        } else {
            format!("- `{name}` (Block {label}")
        };
        if let Some(max) = block_type["max_items"].as_u64() {
            let _ = write!(line, ", Max: {max}");
        }
        line.push(')');
        let desc = block_type["block"]["description"]
            .as_str()
            .unwrap_or_default()
            .trim();
        if !desc.is_empty() {
            let _ = write!(line, " {}", desc.replace('\n', " "));
        }
        let anchor = format!("{prefix}{name}");
        let _ = write!(
            line,
            " (see [below for nested schema](#nestedblock--{anchor}))"
        );
        nested.push((anchor, block_type["block"].clone()));
        groups.entry(group).or_default().push(line);
    }
    for (group, lines) in groups {
        let title = match group {
            0 => "Required",
            1 => "Optional",
            _ => "Read-Only",
        };
        let _ = writeln!(out, "\n### {title}\n");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
}

fn attribute_group(attr: &Value) -> u8 {
    if attr["required"].as_bool() == Some(true) {
        0
    } else if attr["optional"].as_bool() == Some(true) {
        1
    } else {
        2
    }
}

fn nesting_label(mode: &str) -> &'static str {
    match mode {
        "list" => "List",
        "set" => "Set",
        "map" => "Map",
        _ => "",
    }
}

fn attribute_type(attr: &Value) -> String {
    if let Some(nested) = attr.get("nested_type") {
        return match nested["nesting_mode"].as_str().unwrap_or("single") {
            "list" => "Attributes List".into(),
            "set" => "Attributes Set".into(),
            "map" => "Attributes Map".into(),
            _ => "Attributes".into(),
        };
    }
    type_name(&attr["type"])
}

/// Terraform's type JSON (`"string"`, `["list","string"]`, …) in words.
pub fn type_name(ty: &Value) -> String {
    match ty {
        Value::String(s) => match s.as_str() {
            "string" => "String".into(),
            "number" => "Number".into(),
            "bool" => "Boolean".into(),
            "dynamic" => "Dynamic".into(),
            other => other.to_string(),
        },
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
            (Some("list"), Some(inner)) => format!("List of {}", type_name(inner)),
            (Some("set"), Some(inner)) => format!("Set of {}", type_name(inner)),
            (Some("map"), Some(inner)) => format!("Map of {}", type_name(inner)),
            (Some("object"), _) => "Object".into(),
            (Some("tuple"), _) => "Tuple".into(),
            _ => "Unknown".into(),
        },
        _ => "Unknown".into(),
    }
}

fn sorted(map: &Value) -> Vec<(&String, &Value)> {
    let mut items: Vec<(&String, &Value)> = map
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    items.sort_by(|a, b| a.0.cmp(b.0));
    items
}

fn fenced(lang: &str, body: &str) -> String {
    format!("```{lang}\n{}\n```", body.trim_end())
}

fn read_optional(path: &Path) -> Result<Option<String>, DocsError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(DocsError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// One trailing newline, no trailing spaces, at most one blank line in a row.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_read_error_says_its_cause_once() {
        let error = DocsError::Read {
            path: PathBuf::from("docs/index.md.tmpl"),
            error: std::io::Error::other("disk on fire"),
        };
        assert_eq!(
            error.to_string(),
            "reading docs/index.md.tmpl: disk on fire"
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn type_names_read_as_words() {
        assert_eq!(type_name(&json!("string")), "String");
        assert_eq!(type_name(&json!(["list", "string"])), "List of String");
        assert_eq!(
            type_name(&json!(["map", ["set", "number"]])),
            "Map of Set of Number"
        );
    }

    #[test]
    fn schema_sections_group_required_optional_and_read_only_with_nested_blocks() {
        let block = json!({
            "attributes": {
                "name": {"type": "string", "required": true, "description": "The name."},
                "token": {"type": "string", "optional": true, "sensitive": true, "description": "A token."},
                "id": {"type": "string", "computed": true, "description": "The ID."}
            },
            "block_types": {
                "rule": {"nesting_mode": "list", "block": {"attributes": {"verbs": {"type": ["list", "string"], "required": true, "description": "Verbs."}}}}
            }
        });
        let md = render_block_doc(&block);
        let required = md.find("### Required").expect("required section");
        let optional = md.find("### Optional").expect("optional section");
        let read_only = md.find("### Read-Only").expect("read-only section");
        assert!(required < optional && optional < read_only, "{md}");
        assert!(md.contains("- `name` (String) The name."), "{md}");
        assert!(
            md.contains("- `token` (String, Sensitive) A token."),
            "{md}"
        );
        assert!(
            md.contains(
                "- `rule` (Block List) (see [below for nested schema](#nestedblock--rule))"
            ),
            "{md}"
        );
        assert!(md.contains("### Nested Schema for `rule`"), "{md}");
        assert!(md.contains("- `verbs` (List of String) Verbs."), "{md}");
    }

    #[test]
    fn normalize_collapses_blank_runs_and_ends_with_one_newline() {
        assert_eq!(normalize("a  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
