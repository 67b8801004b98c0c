//! Cost of reading the release model from a realistic state (`Document::get::<ReleaseModel>()`,
//! ~9% of a refresh's CPU before the borrowed deserializer). The state is built from the release
//! schema: every attribute, nested block and map the model accepts is filled in. Measured on the
//! 2-core dev machine: 73 us per read when `get` cloned the state and paths were built per field,
//! 9.3 us reading the borrowed value with paths made on error only.
//! Run with
//! `cargo test --release -p terraform-provider-gitlabrunner --test model_read -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use gitlabrunner::resources::release::model::ReleaseModel;
use gitlabrunner::resources::release::schema::schema;
use tfplugin::{AttributePath, Document, Type, Value};

const RUNS: u32 = 2_000;

/// Candidate values for a leaf of type `ty`, the first that the model accepts is kept.
fn leaves(ty: &Type) -> Vec<Value> {
    match ty {
        Type::String => [
            "kubernetes",
            "https://gitlab.example.com",
            "10m",
            "runner-token",
            "IfNotPresent",
            "s3",
            "Memory",
            "1",
        ]
        .into_iter()
        .map(Value::from)
        .collect(),
        Type::Number => vec![Value::from(3_i64), Value::from(1_i64), Value::from(600_i64)],
        Type::Bool => vec![Value::from(true), Value::from(false)],
        Type::Map(element) => leaves(element)
            .into_iter()
            .map(|v| {
                Value::Map(
                    [
                        ("example.com/a".to_owned(), v.clone()),
                        ("example.com/b".to_owned(), v),
                    ]
                    .into(),
                )
            })
            .collect(),
        Type::List(element) | Type::Set(element) => leaves(element)
            .into_iter()
            .map(|v| Value::List(vec![v]))
            .collect(),
        _ => Vec::new(),
    }
}

/// Fills the value at `path` (of type `ty`) inside `state` as far as the model accepts it.
fn fill(state: &mut Value, ty: &Type, path: &AttributePath, accepts: &dyn Fn(&Value) -> bool) {
    let element_object = match ty {
        Type::List(e) | Type::Set(e) if matches!(**e, Type::Object { .. }) => Some(&**e),
        _ => None,
    };
    if let Type::Object { attributes, .. } = ty {
        if !try_set(state, path, Value::null_object(ty), accepts) {
            return;
        }
        for (name, attribute) in attributes {
            fill(state, attribute, &path.attr(name.clone()), accepts);
        }
    } else if let Some(element) = element_object {
        if !try_set(
            state,
            path,
            Value::List(vec![Value::null_object(element)]),
            accepts,
        ) {
            return;
        }
        fill(state, element, &path.index(0), accepts);
    } else {
        for candidate in leaves(ty) {
            if try_set(state, path, candidate, accepts) {
                return;
            }
        }
    }
}

fn try_set(
    state: &mut Value,
    path: &AttributePath,
    value: Value,
    accepts: &dyn Fn(&Value) -> bool,
) -> bool {
    let mut changed = state.clone();
    let Some(slot) = changed.at_mut(path) else {
        return false;
    };
    *slot = value;
    if accepts(&changed) {
        *state = changed;
        true
    } else {
        false
    }
}

fn realistic_state() -> Document {
    let ty = Arc::new(schema().value_type());
    let accepts = |value: &Value| {
        value
            .clone()
            .conform(&ty)
            .ok()
            .is_some_and(|v| Document::new(ty.clone(), v).get::<ReleaseModel>().is_ok())
    };
    let mut state = Value::null_object(&ty);
    for (name, value) in [
        ("name", "gitlab-runner"),
        ("namespace", "ci"),
        ("gitlab_url", "https://gitlab.example.com"),
        ("token_secret_name", "runner-token"),
        (
            "runner_config_toml",
            "[[runners]]\n  executor = \"kubernetes\"\n",
        ),
    ] {
        *state.at_mut(&AttributePath::new(name)).unwrap() = Value::from(value);
    }
    assert!(accepts(&state), "the base state reads as a model");
    let Type::Object { attributes, .. } = ty.as_ref() else {
        panic!("the release type is an object");
    };
    for (name, attribute) in attributes {
        if state.attr(name).is_some_and(Value::is_null) {
            fill(
                &mut state,
                attribute,
                &AttributePath::new(name.clone()),
                &accepts,
            );
        }
    }
    let state = state.conform(&ty).expect("the state conforms");
    Document::new(ty, state)
}

fn count(value: &Value) -> usize {
    1 + match value {
        Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => vs.iter().map(count).sum(),
        Value::Map(m) | Value::Object(m) => m.values().map(count).sum(),
        Value::Dynamic(_, inner) => count(inner),
        _ => 0,
    }
}

#[test]
#[ignore = "timing; run with --release --ignored --nocapture"]
fn release_model_read_cost() {
    let state = realistic_state();
    let top = state
        .value()
        .as_entries()
        .map_or(0, |m| m.values().filter(|v| !v.is_null()).count());
    println!(
        "state: {top} non-null attributes, {} values in all",
        count(state.value())
    );
    let before = state.clone();
    for _ in 0..50 {
        let _: ReleaseModel = state.get().expect("reads");
    }
    let mut samples = Vec::new();
    for _ in 0..5 {
        let began = Instant::now();
        for _ in 0..RUNS {
            let model: ReleaseModel = state.get().expect("reads");
            std::hint::black_box(model);
        }
        samples.push(began.elapsed() / RUNS);
    }
    samples.sort();
    println!(
        "Document::get::<ReleaseModel>(): median {:?}, best {:?} per read",
        samples[samples.len() / 2],
        samples[0]
    );
    assert_eq!(state, before, "get leaves the document untouched");
}
