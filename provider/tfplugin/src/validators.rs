//! Attribute validators: small named values, one concern each.
//!
//! The server runs them during `Validate*` for attributes whose value is known and not null, so
//! a validator only ever sees a real value.

use std::fmt;

use crate::diagnostics::Diagnostics;
use crate::duration::parse_go_duration;
use crate::path::AttributePath;
use crate::value::Value;

/// Checks one attribute value.
pub trait Validator: Send + Sync + fmt::Debug {
    /// What the validator demands, for documentation ("must be one of: a, b").
    fn description(&self) -> String;
    /// Adds a diagnostic (at `path`) when `value` is not acceptable.
    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics);
}

/// The string must be one of the given values.
pub fn one_of<S: Into<String>>(allowed: impl IntoIterator<Item = S>) -> OneOf {
    OneOf(allowed.into_iter().map(Into::into).collect())
}

#[derive(Clone, Debug)]
pub struct OneOf(Vec<String>);

impl Validator for OneOf {
    fn description(&self) -> String {
        format!("must be one of: {}", self.0.join(", "))
    }

    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics) {
        let Some(s) = value.as_str() else { return };
        if !self.0.iter().any(|a| a == s) {
            diagnostics.attribute_error(
                path.clone(),
                "Invalid Attribute Value",
                format!("{path} {}, got {s:?}.", self.description()),
            );
        }
    }
}

/// The string length (in characters) must be within `min..=max`.
pub fn string_length(min: usize, max: usize) -> StringLength {
    StringLength { min, max }
}

#[derive(Clone, Debug)]
pub struct StringLength {
    min: usize,
    max: usize,
}

impl Validator for StringLength {
    fn description(&self) -> String {
        format!("length must be between {} and {}", self.min, self.max)
    }

    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics) {
        let Some(s) = value.as_str() else { return };
        let len = s.chars().count();
        if len < self.min || len > self.max {
            diagnostics.attribute_error(
                path.clone(),
                "Invalid Attribute Value Length",
                format!("{path} {}, got {len}.", self.description()),
            );
        }
    }
}

/// The number must be a whole number within `min..=max`.
pub fn int_between(min: i64, max: i64) -> IntBetween {
    IntBetween { min, max }
}

#[derive(Clone, Debug)]
pub struct IntBetween {
    min: i64,
    max: i64,
}

impl Validator for IntBetween {
    fn description(&self) -> String {
        format!(
            "must be a whole number between {} and {}",
            self.min, self.max
        )
    }

    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics) {
        let Some(n) = value.as_number() else { return };
        match n.as_i64() {
            Some(i) if (self.min..=self.max).contains(&i) => {}
            _ => diagnostics.attribute_error(
                path.clone(),
                "Invalid Attribute Value",
                format!("{path} {}, got {n}.", self.description()),
            ),
        }
    }
}

/// The string must be a Go-style duration such as `"30s"`, `"10m"` or `"1h30m"`.
pub fn duration() -> GoDuration {
    GoDuration
}

#[derive(Clone, Copy, Debug)]
pub struct GoDuration;

impl Validator for GoDuration {
    fn description(&self) -> String {
        "must be a duration such as \"30s\", \"10m\" or \"1h30m\"".to_owned()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics) {
        let Some(s) = value.as_str() else { return };
        if let Err(e) = parse_go_duration(s) {
            diagnostics.attribute_error(
                path.clone(),
                "Invalid Duration",
                format!("{path} {}: {e}.", self.description()),
            );
        }
    }
}

/// A validator from a closure, for checks specific to one resource.
///
/// ```
/// use tfplugin::validators::{Validator, from_fn};
/// let lowercase = from_fn("must be lowercase", |value, path, diags| {
///     if let Some(s) = value.as_str() {
///         if s.chars().any(|c| c.is_uppercase()) {
///             diags.attribute_error(path.clone(), "Invalid Name", format!("{s:?} must be lowercase."));
///         }
///     }
/// });
/// assert_eq!(lowercase.description(), "must be lowercase");
/// ```
pub fn from_fn<F>(description: impl Into<String>, check: F) -> FnValidator<F>
where
    F: Fn(&Value, &AttributePath, &mut Diagnostics) + Send + Sync,
{
    FnValidator {
        description: description.into(),
        check,
    }
}

pub struct FnValidator<F> {
    description: String,
    check: F,
}

impl<F> fmt::Debug for FnValidator<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnValidator({:?})", self.description)
    }
}

impl<F> Validator for FnValidator<F>
where
    F: Fn(&Value, &AttributePath, &mut Diagnostics) + Send + Sync,
{
    fn description(&self) -> String {
        self.description.clone()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diagnostics: &mut Diagnostics) {
        (self.check)(value, path, diagnostics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &dyn Validator, value: Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        v.validate(&value, &AttributePath::new("x"), &mut d);
        d
    }

    #[test]
    fn validators_accept_good_and_reject_bad_values() {
        let cases: Vec<(Box<dyn Validator>, Value, bool)> = vec![
            (Box::new(one_of(["a", "b"])), Value::from("a"), true),
            (Box::new(one_of(["a", "b"])), Value::from("c"), false),
            (Box::new(string_length(1, 3)), Value::from("abc"), true),
            (Box::new(string_length(1, 3)), Value::from(""), false),
            (Box::new(string_length(1, 3)), Value::from("abcd"), false),
            (Box::new(int_between(1, 10)), Value::from(10_i64), true),
            (Box::new(int_between(1, 10)), Value::from(11_i64), false),
            (Box::new(int_between(1, 10)), Value::from(1.5), false),
            (Box::new(duration()), Value::from("1h30m"), true),
            (Box::new(duration()), Value::from("ten minutes"), false),
        ];
        for (validator, value, ok) in cases {
            let d = run(validator.as_ref(), value.clone());
            assert_eq!(!d.has_errors(), ok, "{validator:?} on {value:?}: {d}");
            if !ok {
                assert_eq!(
                    d.iter().next().unwrap().attribute,
                    Some(AttributePath::new("x"))
                );
            }
        }
    }
}
