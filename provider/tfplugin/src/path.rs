//! Attribute paths: where in a value a diagnostic or a change applies.

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    /// An attribute of an object (or a nested block).
    Attribute(String),
    /// An element of a map, by key.
    Key(String),
    /// An element of a list or tuple, by position.
    Index(i64),
}

/// An immutable path into a value, built step by step:
/// `AttributePath::new("rules").index(0).attr("port")`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath {
    steps: Vec<PathStep>,
}

impl AttributePath {
    /// The empty path (the whole value).
    pub fn root() -> AttributePath {
        AttributePath::default()
    }

    /// A path to a top-level attribute.
    pub fn new(attribute: impl Into<String>) -> AttributePath {
        AttributePath::root().attr(attribute)
    }

    /// This path followed by an attribute step.
    #[must_use]
    pub fn attr(&self, name: impl Into<String>) -> AttributePath {
        self.with(PathStep::Attribute(name.into()))
    }

    /// This path followed by a map key step.
    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> AttributePath {
        self.with(PathStep::Key(key.into()))
    }

    /// This path followed by a list index step.
    #[must_use]
    pub fn index(&self, index: usize) -> AttributePath {
        self.with(PathStep::Index(i64::try_from(index).unwrap_or(i64::MAX)))
    }

    fn with(&self, step: PathStep) -> AttributePath {
        let mut steps = self.steps.clone();
        steps.push(step);
        AttributePath { steps }
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }

    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// The path without its last step (the root stays the root).
    #[must_use]
    pub fn parent(&self) -> AttributePath {
        let mut steps = self.steps.clone();
        steps.pop();
        AttributePath { steps }
    }

    /// The path built from raw steps.
    pub fn from_steps(steps: Vec<PathStep>) -> AttributePath {
        AttributePath { steps }
    }
}

/// Shown the way Terraform users write it: `rules[0].port`, `labels["app"]`.
impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_steps_do_not_change_the_original_path() {
        let base = AttributePath::new("rules");
        let first = base.index(0).attr("port");
        let labels = base.key("app");
        assert_eq!(base.steps().len(), 1);
        assert_eq!(first.to_string(), "rules[0].port");
        assert_eq!(labels.to_string(), r#"rules["app"]"#);
        assert_eq!(first.parent(), base.index(0));
    }

    #[test]
    fn root_path_prints_empty_and_has_no_parent() {
        assert!(AttributePath::root().is_root());
        assert_eq!(AttributePath::root().to_string(), "");
        assert!(AttributePath::root().parent().is_root());
    }
}
