//! Field-by-field comparison of a manifest object with its live counterpart, looking only at what
//! the manifest sets. Anything the server or a controller adds (defaults, status, extra labels,
//! injected sidecars) is not drift.
//!
//! Rules:
//! - maps: every key the manifest sets is compared; extra live keys are ignored;
//! - lists of objects that all carry a `name` (containers, env, volumes, ports…): matched by name,
//!   extra live elements ignored; other lists: element by element, and a live list of a different
//!   length is a change;
//! - scalars: equal JSON, or numerically equal numbers, or a string and a number/bool with the
//!   same meaning (`"1"` vs `1`; YAML 1.1 `0644` vs 420 and `yes` vs true, since helm renders
//!   with YAML 1.1 and we parse 1.2), or two Kubernetes quantities of the same value (`"0.5"`
//!   vs `"500m"`, `"1Gi"` vs `"1024Mi"`) are equal;
//! - a manifest value that is `null`, empty (`{}`, `[]`, `""`), `false` or `0` matches a missing
//!   live field (the API server omits zero values);
//! - top level: `apiVersion`, `kind`, `status` are skipped; of `metadata` only `labels` and
//!   `annotations` are compared;
//! - Secrets: `data` is compared as decoded bytes; `stringData.k` is compared with the decoded
//!   live `data.k`.
//!
//! [`live_extras`] lists the other direction: what the live object has and the manifest does not
//! set (a map key, a named list element). Whether such an extra is drift depends on who added it
//! (`metadata.managedFields`), which [`crate::drift`] decides.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// One step of a field path, as the comparison walked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A map key.
    Key(String),
    /// The element of a named list whose `name` is this.
    Name(String),
    /// A list element by position.
    Index(usize),
}

/// Where the comparison is: borrowed steps back to the root. Walking allocates nothing; the path
/// is built (as text like `spec.containers[name=web].image`, and as [`Step`]s) only for what is
/// reported, since a refresh compares every field of every manifest object.
#[derive(Clone, Copy)]
enum At<'a> {
    Root,
    Child(&'a At<'a>, StepRef<'a>),
}

/// A [`Step`] borrowing its key or name: what a walk hands out before anything is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepRef<'a> {
    Key(&'a str),
    Name(&'a str),
    Index(usize),
}

impl Step {
    pub fn borrowed(&self) -> StepRef<'_> {
        match self {
            Step::Key(key) => StepRef::Key(key),
            Step::Name(name) => StepRef::Name(name),
            Step::Index(index) => StepRef::Index(*index),
        }
    }
}

impl StepRef<'_> {
    pub fn to_owned_step(self) -> Step {
        match self {
            StepRef::Key(key) => Step::Key(key.to_owned()),
            StepRef::Name(name) => Step::Name(name.to_owned()),
            StepRef::Index(index) => Step::Index(index),
        }
    }
}

impl<'a> At<'a> {
    fn key(&'a self, key: &'a str) -> At<'a> {
        At::Child(self, StepRef::Key(key))
    }

    fn name(&'a self, name: &'a str) -> At<'a> {
        At::Child(self, StepRef::Name(name))
    }

    fn index(&'a self, index: usize) -> At<'a> {
        At::Child(self, StepRef::Index(index))
    }

    /// The steps from the root to here.
    fn walked(&self) -> Vec<StepRef<'a>> {
        let mut steps = Vec::new();
        let mut here = self;
        while let At::Child(parent, step) = here {
            steps.push(*step);
            here = parent;
        }
        steps.reverse();
        steps
    }

    fn steps(&self) -> Vec<Step> {
        self.walked()
            .into_iter()
            .map(StepRef::to_owned_step)
            .collect()
    }

    fn text(&self) -> String {
        text_of(&self.walked())
    }
}

/// A path as text: `spec.containers[name=web].image`.
fn text_of(steps: &[StepRef<'_>]) -> String {
    let mut text = String::new();
    for step in steps.iter().copied() {
        match step {
            StepRef::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(&path_key(key));
            }
            StepRef::Name(name) => text.push_str(&format!("[name={name}]")),
            StepRef::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// One difference found, before it is attached to an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDifference {
    /// Dotted path, list elements as `[3]` or `[name=web]`.
    pub path: String,
    /// The same path as steps (to look up who owns the live field).
    pub steps: Vec<Step>,
    pub missing: bool,
    pub expected: Value,
    pub actual: Option<Value>,
}

/// A live field or list element the manifest does not set.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveExtra {
    pub path: String,
    pub steps: Vec<Step>,
}

/// Compares a manifest object with the live object.
pub fn compare_object(kind: &str, desired: &Value, live: &Value) -> Vec<FieldDifference> {
    let mut differences = Vec::new();
    let (Some(desired), Some(live_map)) = (desired.as_object(), live.as_object()) else {
        return differences;
    };
    let root = At::Root;
    for (key, value) in desired {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => compare_metadata(value, live_map.get("metadata"), &mut differences),
            "data" if kind == "Secret" => {
                compare_secret_data(value, live_map.get("data"), "data", false, &mut differences)
            }
            "stringData" if kind == "Secret" => {
                compare_secret_data(
                    value,
                    live_map.get("data"),
                    "stringData",
                    true,
                    &mut differences,
                );
            }
            _ => compare_value(value, live_map.get(key), &root.key(key), &mut differences),
        }
    }
    differences
}

fn compare_metadata(desired: &Value, live: Option<&Value>, out: &mut Vec<FieldDifference>) {
    let root = At::Root;
    let metadata = root.key("metadata");
    for field in ["labels", "annotations"] {
        if let Some(value) = desired.get(field) {
            compare_value(
                value,
                live.and_then(|m| m.get(field)),
                &metadata.key(field),
                out,
            );
        }
    }
}

/// What the live object has that the manifest does not set: map keys, and elements of named
/// lists (reported whole). A map the manifest lacks is reported key by key, so that each key
/// can be attributed to whoever added it. Skipped: `apiVersion`, `kind`, `status`, metadata
/// other than labels and annotations; positional lists (a longer live list is already a change).
/// Secret `data` keys count as set when the manifest sets them in `data` or `stringData`.
pub fn live_extras(kind: &str, desired: &Value, live: &Value) -> Vec<LiveExtra> {
    live_extras_where(kind, desired, live, &mut |_| true)
}

/// [`live_extras`], keeping only the extras `keep` accepts (it sees each one's steps, borrowed):
/// a live object has many fields the manifest does not set (server defaults), and a path is built
/// only for the few kept.
pub fn live_extras_where(
    kind: &str,
    desired: &Value,
    live: &Value,
    keep: &mut dyn FnMut(&[StepRef<'_>]) -> bool,
) -> Vec<LiveExtra> {
    let mut out = Vec::new();
    let Some(live_map) = live.as_object() else {
        return out;
    };
    let root = At::Root;
    for (key, live_value) in live_map {
        let path = root.key(key);
        match key.as_str() {
            "apiVersion" | "kind" | "status" | "stringData" => {}
            "metadata" => {
                for field in ["labels", "annotations"] {
                    if let Some(value) = live_value.get(field) {
                        extras_in(
                            desired.get("metadata").and_then(|m| m.get(field)),
                            value,
                            &path.key(field),
                            keep,
                            &mut out,
                        );
                    }
                }
            }
            "data" if kind == "Secret" => {
                let set_by_manifest = |k: &str| {
                    ["data", "stringData"]
                        .iter()
                        .any(|source| desired.get(source).and_then(|m| m.get(k)).is_some())
                };
                if let Some(live_data) = live_value.as_object() {
                    for k in live_data.keys().filter(|k| !set_by_manifest(k)) {
                        push_extra(&path.key(k), keep, &mut out);
                    }
                }
            }
            _ => extras_in(desired.get(key), live_value, &path, keep, &mut out),
        }
    }
    out
}

fn push_extra(
    path: &At<'_>,
    keep: &mut dyn FnMut(&[StepRef<'_>]) -> bool,
    out: &mut Vec<LiveExtra>,
) {
    let steps = path.walked();
    if keep(&steps) {
        out.push(LiveExtra {
            path: text_of(&steps),
            steps: steps.into_iter().map(StepRef::to_owned_step).collect(),
        });
    }
}

fn extras_in(
    desired: Option<&Value>,
    live: &Value,
    path: &At<'_>,
    keep: &mut dyn FnMut(&[StepRef<'_>]) -> bool,
    out: &mut Vec<LiveExtra>,
) {
    let desired = desired.filter(|d| !d.is_null());
    match (desired, live) {
        (_, Value::Object(live)) => {
            if desired.is_some_and(|d| !d.is_object()) {
                return;
            }
            for (key, value) in live {
                extras_in(
                    desired.and_then(|d| d.get(key)),
                    value,
                    &path.key(key),
                    keep,
                    out,
                );
            }
        }
        (_, Value::Array(live)) => {
            let Some(live_named) = named_elements(live) else {
                if desired.is_none() && !live.is_empty() {
                    push_extra(path, keep, out);
                } else if let Some(Value::Array(desired)) = desired {
                    for (index, (d, l)) in desired.iter().zip(live).enumerate() {
                        extras_in(Some(d), l, &path.index(index), keep, out);
                    }
                }
                return;
            };
            let desired_named = match desired {
                None => Vec::new(),
                Some(Value::Array(d)) => match named_elements(d) {
                    Some(named) => named,
                    None if d.is_empty() => Vec::new(),
                    None => return,
                },
                Some(_) => return,
            };
            for (name, element) in live_named {
                let element_path = path.name(name);
                match desired_named.iter().find(|(n, _)| *n == name) {
                    Some((_, d)) => extras_in(Some(d), element, &element_path, keep, out),
                    None => push_extra(&element_path, keep, out),
                }
            }
        }
        (None, _) => push_extra(path, keep, out),
        (Some(_), _) => {}
    }
}

fn compare_secret_data(
    desired: &Value,
    live_data: Option<&Value>,
    prefix: &str,
    plain: bool,
    out: &mut Vec<FieldDifference>,
) {
    let Some(desired) = desired.as_object() else {
        return;
    };
    for (key, value) in desired {
        // Built only for a difference: most keys match.
        let path = || format!("{prefix}.{}", path_key(key));
        let steps = || vec![Step::Key("data".to_string()), Step::Key(key.clone())];
        let expected: Option<Vec<u8>> = match value {
            Value::Null => continue,
            Value::String(text) if plain => Some(text.as_bytes().to_vec()),
            Value::String(text) => STANDARD.decode(text.trim()).ok(),
            _ => None,
        };
        let actual = live_data
            .and_then(|data| data.get(key))
            .and_then(Value::as_str);
        match (expected, actual) {
            (Some(expected), None) if expected.is_empty() => {}
            (_, None) => out.push(FieldDifference {
                path: path(),
                steps: steps(),
                missing: true,
                expected: value.clone(),
                actual: None,
            }),
            (Some(expected), Some(actual)) => {
                if STANDARD.decode(actual.trim()).ok().as_deref() != Some(expected.as_slice()) {
                    out.push(FieldDifference {
                        path: path(),
                        steps: steps(),
                        missing: false,
                        expected: value.clone(),
                        actual: Some(Value::String(actual.to_string())),
                    });
                }
            }
            (None, Some(actual)) => {
                if value.as_str() != Some(actual) {
                    out.push(FieldDifference {
                        path: path(),
                        steps: steps(),
                        missing: false,
                        expected: value.clone(),
                        actual: Some(Value::String(actual.to_string())),
                    });
                }
            }
        }
    }
}

fn difference(
    path: &At<'_>,
    missing: bool,
    expected: &Value,
    actual: Option<&Value>,
) -> FieldDifference {
    FieldDifference {
        path: path.text(),
        steps: path.steps(),
        missing,
        expected: expected.clone(),
        actual: actual.cloned(),
    }
}

fn compare_value(
    desired: &Value,
    live: Option<&Value>,
    path: &At<'_>,
    out: &mut Vec<FieldDifference>,
) {
    let Some(live) = live.filter(|live| !live.is_null()) else {
        if !is_zero(desired) {
            out.push(difference(path, true, desired, None));
        }
        return;
    };
    match (desired, live) {
        (Value::Null, _) => {}
        (Value::Object(desired), Value::Object(live)) => {
            for (key, value) in desired {
                compare_value(value, live.get(key), &path.key(key), out);
            }
        }
        (Value::Array(desired), Value::Array(live)) => compare_list(desired, live, path, out),
        (desired, live) if scalars_equal(desired, live) => {}
        (desired, live) => out.push(difference(path, false, desired, Some(live))),
    }
}

fn compare_list(desired: &[Value], live: &[Value], path: &At<'_>, out: &mut Vec<FieldDifference>) {
    if let Some(desired_named) = named_elements(desired)
        && let Some(live_named) = named_elements(live)
    {
        for (name, element) in desired_named {
            let element_path = path.name(name);
            match live_named.iter().find(|(live_name, _)| *live_name == name) {
                Some((_, live_element)) => {
                    compare_value(element, Some(live_element), &element_path, out)
                }
                None => out.push(difference(&element_path, true, element, None)),
            }
        }
        return;
    }
    for (index, element) in desired.iter().enumerate() {
        compare_value(element, live.get(index), &path.index(index), out);
    }
    if live.len() > desired.len() {
        out.push(difference(
            path,
            false,
            &Value::Array(desired.to_vec()),
            Some(&Value::Array(live.to_vec())),
        ));
    }
}

/// `Some` when every element is an object with a string `name` (and there is at least one).
fn named_elements(list: &[Value]) -> Option<Vec<(&str, &Value)>> {
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|element| {
            element
                .get("name")
                .and_then(Value::as_str)
                .map(|name| (name, element))
        })
        .collect()
}

fn path_key(key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']', ' ', '/']) {
        format!("[{key:?}]")
    } else {
        key.to_string()
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty() || o.values().all(is_zero),
    }
}

fn scalars_equal(desired: &Value, live: &Value) -> bool {
    if desired == live {
        return true;
    }
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a.as_f64(), b.as_f64()),
        (Value::String(text), Value::Number(number))
        | (Value::Number(number), Value::String(text)) => {
            numbers_equal(parse_quantity(text), number.as_f64())
                || numbers_equal(yaml11_integer(text), number.as_f64())
        }
        (Value::String(text), Value::Bool(flag)) | (Value::Bool(flag), Value::String(text)) => {
            yaml11_bool(text) == Some(*flag)
        }
        (Value::String(a), Value::String(b)) => numbers_equal(parse_quantity(a), parse_quantity(b)),
        _ => false,
    }
}

fn numbers_equal(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()) * 4.0,
        _ => false,
    }
}

/// helm renders manifests with YAML 1.1 rules, where `0644` is octal (420), `0x1F` hex and
/// `1_000` a number; we parse YAML 1.2, which keeps them as strings.
fn yaml11_integer(text: &str) -> Option<f64> {
    let text = text.trim().replace('_', "");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text.trim_start_matches('+').to_string()),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    #[allow(clippy::cast_precision_loss)] // file modes and counts: far below 2^53
    let value = value as f64;
    Some(if negative { -value } else { value })
}

/// YAML 1.1 booleans (`yes`, `on`, `y`…), which YAML 1.2 reads as strings.
fn yaml11_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" => Some(true),
        "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// The value of a Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`, `1.5k`), `None` otherwise.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|number| (number, *factor)))
        .unwrap_or((text, 1.0));
    let valid = !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'))
        && number.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    number.parse::<f64>().ok().map(|value| value * factor)
}
