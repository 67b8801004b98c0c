//! Findings: what the validator, renderer and values checks report.
//!
//! A finding is data, not an error: callers turn each one into a diagnostic (Terraform attribute path,
//! summary, detail). Findings never carry the value of a secret-bearing key.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input must be changed before it can be used.
    Error,
    /// The input works but is probably not what the user meant, or is risky.
    Warning,
}

/// Which check produced a finding; stable, so callers and tests can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The text is not valid TOML.
    Syntax,
    /// A key the catalogue does not know for its section.
    UnknownKey,
    /// A value of the wrong kind (string where an integer belongs, table where an array belongs, ...).
    WrongKind,
    /// A value of the right kind outside the allowed range or set.
    InvalidValue,
    /// A secret-bearing key, or something that looks like a credential.
    Secret,
    /// `runners.config` must hold exactly one `[[runners]]` table.
    RunnersCount,
    /// A security guard-rail (e.g. privileged jobs that may run any image).
    GuardRail,
    /// Helm template text (`{{ ... }}`) the checks could not see through.
    Template,
    /// A typed input the renderer refuses (missing or conflicting settings).
    InvalidInput,
}

/// One step in a path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Where in a TOML document (or chart values tree) a finding applies, e.g. `runners[0].kubernetes.privileged`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConfigPath(Vec<PathSegment>);

impl ConfigPath {
    /// The empty path (the document root).
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Key(key.into()));
        Self(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(PathSegment::Index(index));
        Self(segments)
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last key of the path, if the path ends in a key.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(PathSegment::Key(key)) => Some(key),
            _ => None,
        }
    }
}

impl<S: Into<String>> FromIterator<S> for ConfigPath {
    /// A path of keys only.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|key| PathSegment::Key(key.into()))
                .collect(),
        )
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for ConfigPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Index(index) => write!(f, "[{index}]")?,
                PathSegment::Key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `source` (clamped to the end; snapped back to a char boundary).
    pub fn of_offset(source: &str, offset: usize) -> Self {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One problem found in a runner configuration or in chart values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    pub path: ConfigPath,
    /// Short, Title Case.
    pub summary: String,
    /// What is wrong and what to do about it.
    pub detail: String,
    /// Where in the source text, when the finding comes from parsed text.
    pub position: Option<Position>,
}

impl Finding {
    pub fn error(
        rule: Rule,
        path: ConfigPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            rule,
            path,
            summary: summary.into(),
            detail: detail.into(),
            position: None,
        }
    }

    pub fn warning(
        rule: Rule,
        path: ConfigPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, path, summary, detail)
        }
    }

    #[must_use]
    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}", self.summary)?;
        if !self.path.is_root() {
            write!(f, " at {}", self.path)?;
        }
        if let Some(position) = self.position {
            write!(f, " ({position})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_like_toml_with_quoted_odd_keys() {
        let path = ConfigPath::root()
            .key("runners")
            .index(0)
            .key("kubernetes")
            .key("node_selector")
            .key("kubernetes.io/os");
        assert_eq!(
            path.to_string(),
            r#"runners[0].kubernetes.node_selector."kubernetes.io/os""#
        );
    }

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let source = "a = 1\nbé = \"x\"\n";
        assert_eq!(
            Position::of_offset(source, 0),
            Position { line: 1, column: 1 }
        );
        let second_equals = source.rfind('=').expect("two `=`");
        assert_eq!(
            Position::of_offset(source, second_equals),
            Position { line: 2, column: 4 }
        );
        assert_eq!(
            Position::of_offset(source, 10_000),
            Position { line: 3, column: 1 }
        );
    }
}
