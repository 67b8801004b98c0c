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

/// A path borrowed from the stack of a walk over a value: each step refers to its parent, so
/// descending costs nothing, and [`PathTrail::to_path`] builds the owned [`AttributePath`] only
/// when one is needed (for an error).
#[derive(Clone, Copy, Debug)]
pub enum PathTrail<'a> {
    /// The whole value.
    Root,
    /// An attribute of an object, below the parent trail.
    Attr(&'a PathTrail<'a>, &'a str),
    /// An element of a map by key, below the parent trail.
    Key(&'a PathTrail<'a>, &'a str),
    /// An element of a list or tuple by position, below the parent trail.
    Index(&'a PathTrail<'a>, usize),
}

impl<'a> PathTrail<'a> {
    /// This trail followed by an attribute step.
    pub fn attr(&'a self, name: &'a str) -> PathTrail<'a> {
        PathTrail::Attr(self, name)
    }

    /// This trail followed by a map key step.
    pub fn key(&'a self, key: &'a str) -> PathTrail<'a> {
        PathTrail::Key(self, key)
    }

    /// This trail followed by a list index step.
    pub fn index(&'a self, index: usize) -> PathTrail<'a> {
        PathTrail::Index(self, index)
    }

    /// The owned path of this trail.
    pub fn to_path(&self) -> AttributePath {
        let mut steps = Vec::new();
        let mut at = self;
        loop {
            let (parent, step) = match *at {
                PathTrail::Root => break,
                PathTrail::Attr(parent, name) => (parent, PathStep::Attribute(name.to_owned())),
                PathTrail::Key(parent, key) => (parent, PathStep::Key(key.to_owned())),
                PathTrail::Index(parent, index) => (
                    parent,
                    PathStep::Index(i64::try_from(index).unwrap_or(i64::MAX)),
                ),
            };
            steps.push(step);
            at = parent;
        }
        steps.reverse();
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

    #[test]
    fn a_trail_becomes_the_path_of_the_same_steps() {
        let root = PathTrail::Root;
        let runner = root.attr("runner");
        let first = runner.index(0);
        let labels = first.attr("labels");
        let app = labels.key("app");
        assert_eq!(
            app.to_path(),
            AttributePath::new("runner")
                .index(0)
                .attr("labels")
                .key("app")
        );
        assert_eq!(app.to_path().to_string(), r#"runner[0].labels["app"]"#);
        assert!(PathTrail::Root.to_path().is_root());
    }
}
