//! Attribute plan modifiers, run by the server during `PlanResourceChange` after defaults are
//! applied and unset computed attributes are marked unknown, and before the resource's own
//! `modify_plan`.

use std::fmt;

use crate::diagnostics::Diagnostics;
use crate::path::AttributePath;
use crate::value::Value;

/// What a plan modifier sees for one attribute.
#[derive(Debug)]
pub struct PlanModifierRequest<'a> {
    pub path: &'a AttributePath,
    pub config: &'a Value,
    /// Prior state (null when the resource is being created).
    pub state: &'a Value,
    /// The plan so far.
    pub plan: &'a Value,
    /// True when there is no prior state.
    pub creating: bool,
}

/// What a plan modifier may change.
#[derive(Debug)]
pub struct PlanModifierResponse {
    pub plan: Value,
    pub requires_replace: bool,
    pub diagnostics: Diagnostics,
}

pub trait PlanModifier: Send + Sync + fmt::Debug {
    fn description(&self) -> String;
    fn modify(&self, request: &PlanModifierRequest<'_>, response: &mut PlanModifierResponse);
}

/// A change of this attribute destroys and re-creates the resource.
#[derive(Clone, Copy, Debug)]
pub struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "changing this value replaces the resource".to_owned()
    }

    fn modify(&self, request: &PlanModifierRequest<'_>, response: &mut PlanModifierResponse) {
        if !request.creating && request.plan != request.state {
            response.requires_replace = true;
        }
    }
}

/// Like [`RequiresReplace`], but only when `condition` says so for a changed value.
pub struct RequiresReplaceIf<F> {
    description: String,
    condition: F,
}

/// Builds a [`RequiresReplaceIf`]: `condition(state, plan)` is asked only when the value changes.
pub fn requires_replace_if<F>(description: impl Into<String>, condition: F) -> RequiresReplaceIf<F>
where
    F: Fn(&Value, &Value) -> bool + Send + Sync,
{
    RequiresReplaceIf {
        description: description.into(),
        condition,
    }
}

impl<F> fmt::Debug for RequiresReplaceIf<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequiresReplaceIf({:?})", self.description)
    }
}

impl<F> PlanModifier for RequiresReplaceIf<F>
where
    F: Fn(&Value, &Value) -> bool + Send + Sync,
{
    fn description(&self) -> String {
        self.description.clone()
    }

    fn modify(&self, request: &PlanModifierRequest<'_>, response: &mut PlanModifierResponse) {
        if request.creating || request.plan == request.state {
            return;
        }
        if (self.condition)(request.state, request.plan) {
            response.requires_replace = true;
        }
    }
}

/// Keeps the prior state's value instead of "(known after apply)" for a computed attribute
/// that does not change once set (e.g. `id`).
#[derive(Clone, Copy, Debug)]
pub struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn description(&self) -> String {
        "the value does not change after creation".to_owned()
    }

    fn modify(&self, request: &PlanModifierRequest<'_>, response: &mut PlanModifierResponse) {
        if request.creating
            || request.state.is_null()
            || !request.plan.is_unknown()
            || request.config.is_unknown()
        {
            return;
        }
        response.plan = request.state.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        m: &dyn PlanModifier,
        creating: bool,
        config: Value,
        state: Value,
        plan: Value,
    ) -> PlanModifierResponse {
        let path = AttributePath::new("x");
        let req = PlanModifierRequest {
            path: &path,
            config: &config,
            state: &state,
            plan: &plan,
            creating,
        };
        let mut resp = PlanModifierResponse {
            plan: plan.clone(),
            requires_replace: false,
            diagnostics: Diagnostics::new(),
        };
        m.modify(&req, &mut resp);
        resp
    }

    #[test]
    fn requires_replace_only_on_a_change_of_an_existing_resource() {
        let a = || Value::from("a");
        let b = || Value::from("b");
        assert!(run(&RequiresReplace, false, b(), a(), b()).requires_replace);
        assert!(!run(&RequiresReplace, false, a(), a(), a()).requires_replace);
        assert!(!run(&RequiresReplace, true, b(), Value::Null, b()).requires_replace);
        assert!(run(&RequiresReplace, false, Value::Unknown, a(), Value::Unknown).requires_replace);
    }

    #[test]
    fn requires_replace_if_asks_its_condition() {
        let grows_only = requires_replace_if("shrinking replaces", |state, plan| {
            plan.as_number().and_then(|n| n.as_i64()) < state.as_number().and_then(|n| n.as_i64())
        });
        let v = |i: i64| Value::from(i);
        assert!(run(&grows_only, false, v(1), v(2), v(1)).requires_replace);
        assert!(!run(&grows_only, false, v(3), v(2), v(3)).requires_replace);
    }

    #[test]
    fn use_state_for_unknown_keeps_prior_value() {
        let r = run(
            &UseStateForUnknown,
            false,
            Value::Null,
            Value::from("id-1"),
            Value::Unknown,
        );
        assert_eq!(r.plan, Value::from("id-1"));
        let r = run(
            &UseStateForUnknown,
            true,
            Value::Null,
            Value::Null,
            Value::Unknown,
        );
        assert_eq!(r.plan, Value::Unknown);
        let r = run(
            &UseStateForUnknown,
            false,
            Value::Unknown,
            Value::from("x"),
            Value::Unknown,
        );
        assert_eq!(r.plan, Value::Unknown);
    }
}
