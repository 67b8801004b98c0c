//! Checks a user-written `runners.config` (runner `config.toml` text) against the key catalogue.
//!
//! Entry point: [`validate_runner_config`]. Findings name the TOML path and the 1-based line and
//! column; they never contain the value of a secret-bearing key (nor, in fact, any value).

mod duration;
mod lines;
mod suggest;
pub(crate) mod template;

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use crate::catalogue::{self, Secrecy, SectionSpec, ValueKind};
use crate::credentials::{is_credential_key, looks_like_credential, secret_key_advice};
use crate::finding::{ConfigPath, Finding, Position, Rule};
use lines::LineIndex;
use suggest::{Suggestion, section_header, suggest};
use template::{MaskedSource, TemplatePlacement};

/// The largest runner configuration: the chart writes it into a ConfigMap, and Kubernetes refuses
/// ConfigMaps over 1 MiB.
pub const MAX_RUNNER_CONFIG_BYTES: usize = 1024 * 1024;

/// Checks `source` (the text for the chart's `runners.config`) and returns every finding, errors first
/// in document order, then warnings. An empty list means the configuration is clean.
pub fn validate_runner_config(source: &str) -> Vec<Finding> {
    if source.len() > MAX_RUNNER_CONFIG_BYTES {
        return vec![Finding::error(
            Rule::Syntax,
            ConfigPath::root(),
            "Runner Configuration Too Large",
            format!(
                "The runner configuration is {} bytes; the chart stores it in a ConfigMap, which \
                 Kubernetes limits to 1 MiB ({MAX_RUNNER_CONFIG_BYTES} bytes), so it was not checked \
                 further.",
                source.len()
            ),
        )];
    }
    let masked = template::mask(source);
    let mut checker = Checker {
        lines: LineIndex::new(source),
        masked: &masked,
        findings: Vec::new(),
    };
    if let Some(offset) = masked.unclosed_at {
        checker.findings.push(
            Finding::error(
                Rule::Template,
                ConfigPath::root(),
                "Unclosed Template Expression",
                "This `{{` has no closing `}}`. The chart renders runners.config with Helm's tpl \
                 function, which would fail on it; close the expression, or remove the braces.",
            )
            .at(Some(Position::of_offset(source, offset))),
        );
        return checker.findings;
    }
    checker.report_template_statements();
    match toml_edit::Document::parse(masked.text.as_str()) {
        Err(error) => checker.report_syntax_error(&error),
        Ok(document) => {
            let root = document.as_table();
            checker.check_table(root, catalogue::root_section(), &ConfigPath::root());
            checker.check_runner_count(root);
            checker.check_guard_rails(root);
        }
    }
    let mut findings = checker.findings;
    findings.sort_by_key(|finding| (finding.severity, finding.position));
    findings
}

struct Checker<'s> {
    lines: LineIndex<'s>,
    masked: &'s MaskedSource,
    findings: Vec<Finding>,
}

fn describe_found(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(value) => match value {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        Item::ArrayOfTables(array) => array.span().or_else(|| array.get(0).and_then(|t| t.span())),
        other => other.span(),
    }
}

/// One table of an array of tables, with its span.
type SpannedTable<'a> = (&'a dyn TableLike, Option<Range<usize>>);

/// The tables of an array of tables, written either as `[[x]]` or as an array of inline tables.
fn tables_of(item: &Item) -> Option<Vec<SpannedTable<'_>>> {
    match item {
        Item::ArrayOfTables(array) => Some(
            array
                .iter()
                .map(|table| (table as &dyn TableLike, table.span()))
                .collect(),
        ),
        Item::Value(Value::Array(array)) => array
            .iter()
            .map(|value| {
                value
                    .as_inline_table()
                    .map(|t| (t as &dyn TableLike, t.span()))
            })
            .collect(),
        _ => None,
    }
}

impl Checker<'_> {
    fn position(&self, span: Option<Range<usize>>) -> Option<Position> {
        span.map(|span| self.lines.position(span.start))
    }

    fn report_syntax_error(&mut self, error: &toml_edit::TomlError) {
        let mut detail = format!(
            "The runner configuration is not valid TOML: {}.",
            error.message().trim_end_matches('.')
        );
        if !self.masked.regions.is_empty() {
            detail.push_str(" (Helm template expressions were masked before parsing.)");
        }
        let finding = Finding::error(Rule::Syntax, ConfigPath::root(), "Invalid TOML", detail);
        self.findings.push(finding.at(self.position(error.span())));
    }

    fn report_template_statements(&mut self) {
        let statements: Vec<Range<usize>> = self
            .masked
            .regions
            .iter()
            .filter(|region| region.placement == TemplatePlacement::Statement)
            .map(|region| region.range.clone())
            .collect();
        for range in statements {
            let finding = Finding::warning(
                Rule::Template,
                ConfigPath::root(),
                "Template Outside a Value",
                "The chart renders runners.config with Helm's tpl function before the runner reads it. \
                 This expression stands outside any TOML value, so it was left out of the checks: the \
                 rendered file may differ from what was checked (all branches of a conditional were \
                 checked as if present).",
            );
            self.findings.push(finding.at(self.position(Some(range))));
        }
    }

    fn templated(&self, item: &Item) -> Option<TemplatePlacement> {
        let span = item_span(item)?;
        self.masked
            .region_overlapping(&span)
            .map(|region| region.placement)
    }

    fn check_table(
        &mut self,
        table: &dyn TableLike,
        section: &'static SectionSpec,
        path: &ConfigPath,
    ) {
        for (key, item) in table.iter() {
            let key_span = table.get_key_value(key).and_then(|(k, _)| k.span());
            let key_path = path.key(key);
            let key_position = self.position(key_span.clone().or_else(|| item_span(item)));
            let Some(spec) = section.key(key) else {
                self.report_unknown_key(section, key, &key_path, key_position);
                continue;
            };
            if spec.secrecy == Secrecy::Secret {
                self.report_secret_key(section, key, &key_path, key_position);
                continue;
            }
            let value_position = self.position(item_span(item)).or(key_position);
            self.check_value(item, spec.kind, &key_path, value_position, spec.secrecy);
        }
    }

    fn report_unknown_key(
        &mut self,
        section: &SectionSpec,
        key: &str,
        path: &ConfigPath,
        position: Option<Position>,
    ) {
        if is_credential_key(key) {
            let detail = format!(
                "`{key}` is not a key the runner knows here, and its name says it holds a credential. \
                 {}",
                secret_key_advice("", key)
            );
            let finding = Finding::error(
                Rule::Secret,
                path.clone(),
                "Credential in Runner Configuration",
                detail,
            );
            self.findings.push(finding.at(position));
            return;
        }
        let header = section_header(section.path);
        let hint = match suggest(section, key) {
            Some(Suggestion::Case(name)) => format!(
                " Did you mean `{name}`? Cache keys are CamelCase (`Type`, `BucketName`); all others are snake_case."
            ),
            Some(Suggestion::Spelling(name)) => format!(" Did you mean `{name}`?"),
            Some(Suggestion::OtherSection { section }) => {
                format!(" `{key}` belongs in {}.", section_header(section))
            }
            None => String::new(),
        };
        let detail = format!(
            "GitLab Runner 18.9 has no key `{key}` in {header}; the runner ignores unknown keys.{hint}"
        );
        let finding = Finding::warning(
            Rule::UnknownKey,
            path.clone(),
            "Unknown Runner Configuration Key",
            detail,
        );
        self.findings.push(finding.at(position));
    }

    fn report_secret_key(
        &mut self,
        section: &SectionSpec,
        key: &str,
        path: &ConfigPath,
        position: Option<Position>,
    ) {
        let detail = format!(
            "`{key}` in {} holds a credential and must not be written in runners.config. {}",
            section_header(section.path),
            secret_key_advice(section.path, key)
        );
        let finding = Finding::error(
            Rule::Secret,
            path.clone(),
            "Secret in Runner Configuration",
            detail,
        );
        self.findings.push(finding.at(position));
    }

    fn wrong_kind(
        &mut self,
        item: &Item,
        kind: ValueKind,
        path: &ConfigPath,
        position: Option<Position>,
    ) {
        let mut detail = format!(
            "`{path}` must be {}, not {}.",
            kind.describe(),
            describe_found(item)
        );
        if let ValueKind::ArrayOfTables(section) = kind {
            detail.push_str(&format!(" Write each entry as [[{section}]]."));
        }
        if self.templated(item) == Some(TemplatePlacement::InString) {
            detail.push_str(
                " The template expression is inside quotes, so Helm renders a string here.",
            );
        }
        let finding = Finding::error(Rule::WrongKind, path.clone(), "Wrong Value Type", detail);
        self.findings.push(finding.at(position));
    }

    fn check_value(
        &mut self,
        item: &Item,
        kind: ValueKind,
        path: &ConfigPath,
        position: Option<Position>,
        secrecy: Secrecy,
    ) {
        let templated = self.templated(item);
        if templated == Some(TemplatePlacement::Value) {
            let finding = Finding::warning(
                Rule::Template,
                path.clone(),
                "Unchecked Templated Value",
                format!(
                    "`{path}` is set by a Helm template expression; its value is known only when the chart is rendered and was not checked."
                ),
            );
            self.findings.push(finding.at(position));
            return;
        }
        let in_string_template = templated == Some(TemplatePlacement::InString);
        let value = item.as_value();
        match kind {
            ValueKind::String | ValueKind::Enum(_) | ValueKind::Duration | ValueKind::DateTime
                if value.is_some_and(Value::is_str) =>
            {
                let text = value.and_then(Value::as_str).unwrap_or_default();
                self.scan_text(text, path, position, secrecy);
                if in_string_template {
                    return;
                }
                match kind {
                    ValueKind::Enum(allowed) if !allowed.contains(&text) => {
                        self.unrecognised_value(path, allowed, position)
                    }
                    ValueKind::Duration if !duration::is_go_duration(text) => {
                        let detail =
                            format!("`{path}` must be a Go duration such as \"30s\" or \"1h30m\".");
                        self.findings.push(
                            Finding::error(
                                Rule::InvalidValue,
                                path.clone(),
                                "Invalid Duration",
                                detail,
                            )
                            .at(position),
                        );
                    }
                    _ => {}
                }
            }
            ValueKind::Integer { min } if value.is_some_and(Value::is_integer) => {
                let number = value.and_then(Value::as_integer).unwrap_or_default();
                if let Some(min) = min.filter(|min| number < *min) {
                    let mut detail = format!("`{path}` must be at least {min}.");
                    if path.last_key() == Some("concurrent") {
                        detail.push_str(" With 0 the runner would never run a job.");
                    }
                    self.findings.push(
                        Finding::error(Rule::InvalidValue, path.clone(), "Invalid Value", detail)
                            .at(position),
                    );
                }
            }
            ValueKind::Duration if value.is_some_and(Value::is_integer) => {}
            ValueKind::DateTime if value.is_some_and(Value::is_datetime) => {}
            ValueKind::Bool if value.is_some_and(Value::is_bool) => {}
            ValueKind::StringArray | ValueKind::StringOrStringArray
                if value
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().all(Value::is_str)) =>
            {
                for text in value
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    self.scan_text(text, path, position, secrecy);
                }
            }
            ValueKind::StringOrStringArray if value.is_some_and(Value::is_str) => {
                self.scan_text(
                    value.and_then(Value::as_str).unwrap_or_default(),
                    path,
                    position,
                    secrecy,
                );
            }
            ValueKind::StringMap | ValueKind::BoolMap if item.is_table_like() => {
                self.check_map(item, kind, path);
            }
            ValueKind::Table(section) if item.is_table_like() => {
                if let (Some(table), Some(section)) =
                    (item.as_table_like(), catalogue::section(section))
                {
                    self.check_table(table, section, path);
                }
            }
            ValueKind::OpaqueTable if item.is_table_like() => {}
            ValueKind::ArrayOfTables(section) if tables_of(item).is_some() => {
                let Some(section) = catalogue::section(section) else {
                    return;
                };
                for (index, (table, _)) in tables_of(item).into_iter().flatten().enumerate() {
                    self.check_table(table, section, &path.index(index));
                }
            }
            ValueKind::OpaqueArrayOfTables if tables_of(item).is_some() => {}
            _ => self.wrong_kind(item, kind, path, position),
        }
    }

    fn check_map(&mut self, item: &Item, kind: ValueKind, path: &ConfigPath) {
        let Some(table) = item.as_table_like() else {
            return;
        };
        let element = if kind == ValueKind::BoolMap {
            ValueKind::Bool
        } else {
            ValueKind::String
        };
        for (key, entry) in table.iter() {
            let entry_path = path.key(key);
            let span =
                item_span(entry).or_else(|| table.get_key_value(key).and_then(|(k, _)| k.span()));
            let position = self.position(span);
            self.check_value(
                entry,
                element,
                &entry_path,
                position,
                Secrecy::MayHoldSecret,
            );
        }
    }

    fn unrecognised_value(
        &mut self,
        path: &ConfigPath,
        allowed: &[&str],
        position: Option<Position>,
    ) {
        let choices: Vec<String> = allowed.iter().map(|value| format!("{value:?}")).collect();
        let detail = format!(
            "`{path}` is not one of the values GitLab Runner 18.9 documents: {}.",
            choices.join(", ")
        );
        self.findings.push(
            Finding::warning(
                Rule::InvalidValue,
                path.clone(),
                "Unrecognised Value",
                detail,
            )
            .at(position),
        );
    }

    fn scan_text(
        &mut self,
        text: &str,
        path: &ConfigPath,
        position: Option<Position>,
        secrecy: Secrecy,
    ) {
        if secrecy == Secrecy::Secret || !looks_like_credential(text) {
            return;
        }
        let detail = format!(
            "The value of `{path}` looks like a GitLab token or a private key. runners.config is stored \
             in clear text in a ConfigMap and in the Helm release record; pass credentials to jobs as \
             GitLab CI/CD variables or Kubernetes Secrets instead. (The value is not shown.)"
        );
        self.findings.push(
            Finding::error(
                Rule::Secret,
                path.clone(),
                "Credential in Runner Configuration",
                detail,
            )
            .at(position),
        );
    }

    fn check_runner_count(&mut self, root: &toml_edit::Table) {
        let path = ConfigPath::root().key(catalogue::RUNNER_SECTION);
        let Some(item) = root.get(catalogue::RUNNER_SECTION) else {
            let detail = "runners.config must contain exactly one [[runners]] table: the chart registers \
                          one runner with it as the template. Add a [[runners]] section.";
            self.findings.push(Finding::error(
                Rule::RunnersCount,
                path,
                "No [[runners]] Section",
                detail,
            ));
            return;
        };
        let Some(tables) = tables_of(item) else {
            return;
        };
        if tables.len() != 1 {
            let detail = format!(
                "runners.config must contain exactly one [[runners]] table, not {}: the chart registers \
                 one runner per release. Use one release per runner.",
                tables.len()
            );
            let span = tables
                .get(1)
                .and_then(|(_, span)| span.clone())
                .or_else(|| item_span(item));
            self.findings.push(
                Finding::error(
                    Rule::RunnersCount,
                    path,
                    "Exactly One [[runners]] Section Required",
                    detail,
                )
                .at(self.position(span)),
            );
        }
    }

    fn check_guard_rails(&mut self, root: &toml_edit::Table) {
        let Some(runners) = root.get(catalogue::RUNNER_SECTION).and_then(tables_of) else {
            return;
        };
        for (index, (runner, _)) in runners.into_iter().enumerate() {
            let Some(kubernetes) = runner.get("kubernetes").and_then(Item::as_table_like) else {
                continue;
            };
            let Some((privileged_key, privileged)) = kubernetes.get_key_value("privileged") else {
                continue;
            };
            if privileged.as_bool() != Some(true) {
                continue;
            }
            let restricted = kubernetes
                .get("allowed_images")
                .and_then(Item::as_array)
                .is_some_and(|images| !images.is_empty());
            if restricted
                || kubernetes
                    .get("allowed_images")
                    .is_some_and(|item| self.templated(item).is_some())
            {
                continue;
            }
            let path = ConfigPath::root()
                .key(catalogue::RUNNER_SECTION)
                .index(index)
                .key("kubernetes")
                .key("privileged");
            let detail = "Job containers run privileged (full access to their node), and no allowed_images \
                          list limits which images jobs may start. Any project that can use this runner can \
                          then run any image with root on the node. Set allowed_images (and allowed_services) \
                          to the images you trust, for example [\"docker:*\"].";
            let finding = Finding::warning(
                Rule::GuardRail,
                path,
                "Privileged Jobs Without allowed_images",
                detail,
            );
            self.findings
                .push(finding.at(self.position(privileged_key.span())));
        }
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::finding::Severity;

    #[test]
    fn a_configuration_over_1_mib_is_one_finding_and_is_not_parsed() {
        let mut source = String::from("[[runners]]\nname = \"r\"\nexecutor = \"kubernetes\"\n");
        source.push_str(&format!("# {}\n", "x".repeat(MAX_RUNNER_CONFIG_BYTES)));
        let findings = validate_runner_config(&source);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].summary, "Runner Configuration Too Large");
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(
            findings[0].detail.contains("1048576 bytes"),
            "{}",
            findings[0].detail
        );
    }

    #[test]
    fn twenty_thousand_keys_get_their_own_line_and_column() {
        // Each entry of a string map holds an integer: one finding per key, each with a position.
        let mut source = String::from(
            "[[runners]]\nname = \"r\"\nexecutor = \"kubernetes\"\n[runners.kubernetes.node_selector]\n",
        );
        for i in 0..20_000 {
            source.push_str(&format!("\"é{i}\" = {i}\n"));
        }
        let findings = validate_runner_config(&source);
        let positions: Vec<Position> = findings.iter().filter_map(|f| f.position).collect();
        assert_eq!(positions.len(), 20_000, "{:?}", findings.first());
        assert_eq!(positions[0], Position { line: 5, column: 8 });
        assert_eq!(
            positions[19_999],
            Position {
                line: 20_004,
                column: 12
            }
        );
    }
}
