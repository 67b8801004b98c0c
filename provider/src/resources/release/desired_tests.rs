//! Table-style checks of what a configuration turns into, and when an update runs helm.

use gitlab_runner_chart::TOKEN_DIGEST_ANNOTATION;
use std::sync::Arc;

use tfplugin::{AttributePath, Diagnostics, Document, Severity, Type, Value};

use super::desired::desired;
use super::model::{KubernetesModel, RbacModel, ReleaseModel, RunnerModel};
use super::plan::{CHART_INPUTS, RUN_INPUTS, needs_helm};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn base() -> ReleaseModel {
    ReleaseModel {
        name: "gitlab-runner".into(),
        namespace: "ci".into(),
        gitlab_url: Some("https://gitlab.example.com".into()),
        token_secret_name: Some("runner-token".into()),
        runner: vec![RunnerModel {
            kubernetes: vec![KubernetesModel {
                privileged: Some(true),
                allowed_images: Some(vec!["docker:*".into()]),
                ..KubernetesModel::default()
            }],
            ..RunnerModel::default()
        }],
        ..ReleaseModel::default()
    }
}

type Change = Box<dyn Fn(&mut ReleaseModel)>;

fn paths(diagnostics: &Diagnostics, severity: Severity) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| {
            d.attribute
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_sound_configuration_renders_values_with_the_token_digest_annotation() {
    let mut model = base();
    model.token_digest = Some(DIGEST.into());
    model.concurrent = Some(4);
    let mut diagnostics = Diagnostics::new();
    let wanted = desired(&model, &mut diagnostics).expect("renders");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(
        wanted.values["podAnnotations"]["gitlabrunner.io/token-digest"],
        DIGEST
    );
    assert_eq!(wanted.values["runners"]["name"], "ci-gitlab-runner");
    assert_eq!(wanted.values["runners"]["secret"], "runner-token");
    assert_eq!(wanted.values["concurrent"], 4);
    assert!(wanted.runner_config.contains("privileged = true"));
    let mut other = model.clone();
    other.concurrent = Some(5);
    let changed = desired(&other, &mut Diagnostics::new()).expect("renders");
    assert_ne!(wanted.values_digest, changed.values_digest);
    assert_eq!(
        wanted.values_digest,
        desired(&model, &mut Diagnostics::new())
            .expect("renders")
            .values_digest
    );
}

#[test]
fn each_secret_digest_is_a_pod_annotation_and_a_change_rolls_the_manager() {
    let mut model = base();
    model.token_digest = Some(DIGEST.into());
    model.secret_digests = Some(
        [
            ("cache".to_owned(), DIGEST.to_owned()),
            ("certs".to_owned(), DIGEST.replace('0', "f")),
        ]
        .into(),
    );
    let mut diagnostics = Diagnostics::new();
    let wanted = desired(&model, &mut diagnostics).expect("renders");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let annotations = &wanted.values["podAnnotations"];
    assert_eq!(annotations[TOKEN_DIGEST_ANNOTATION], DIGEST);
    assert_eq!(annotations["gitlabrunner.io/cache-digest"], DIGEST);
    assert_eq!(
        annotations["gitlabrunner.io/certs-digest"],
        DIGEST.replace('0', "f")
    );
    let mut rotated = model.clone();
    if let Some(digests) = rotated.secret_digests.as_mut() {
        digests.insert("cache".into(), DIGEST.replace('1', "e"));
    }
    let changed = desired(&rotated, &mut Diagnostics::new()).expect("renders");
    assert_ne!(wanted.values_digest, changed.values_digest);
    assert_eq!(
        super::mapping::secret_digest_annotation("token"),
        TOKEN_DIGEST_ANNOTATION,
        "secret_digests.token is the annotation token_digest sets"
    );
}

#[test]
fn each_problem_lands_on_its_attribute() {
    let cases: Vec<(&str, Change, Severity, &str)> = vec![
        (
            "values conflict",
            Box::new(|m| {
                m.concurrent = Some(4);
                m.values = Some(vec!["concurrent: 3\n".into()]);
            }),
            Severity::Error,
            "values[0]",
        ),
        (
            "rbac without rules",
            Box::new(|m| {
                m.rbac = vec![RbacModel {
                    create: Some(true),
                    ..RbacModel::default()
                }];
            }),
            Severity::Error,
            "rbac[0]",
        ),
        (
            "both runner forms",
            Box::new(|m| {
                m.runner_config_toml = Some("[[runners]]\n".into());
            }),
            Severity::Error,
            "runner_config_toml",
        ),
        (
            "privileged without allowed_images",
            Box::new(|m| {
                m.runner[0].kubernetes[0].allowed_images = None;
            }),
            Severity::Warning,
            "runner[0].kubernetes[0]",
        ),
        (
            "credentials in values",
            Box::new(|m| {
                m.values = Some(vec!["extra:\n  password: hunter2hunter2\n".into()]);
            }),
            Severity::Warning,
            "values[0]",
        ),
        // A raw token in token_digest is refused by the schema's validator
        // (validators.rs, the_schema_refuses_what_the_mapping_cannot_use_at_its_attribute).
        (
            "token digest annotation set twice",
            Box::new(|m| {
                m.token_digest = Some(DIGEST.into());
                m.pod_annotations =
                    Some([(TOKEN_DIGEST_ANNOTATION.to_owned(), DIGEST.to_owned())].into());
            }),
            Severity::Error,
            "pod_annotations",
        ),
        (
            "cache digest annotation set twice",
            Box::new(|m| {
                m.secret_digests = Some([("cache".to_owned(), DIGEST.to_owned())].into());
                m.pod_annotations =
                    Some([("gitlabrunner.io/cache-digest".to_owned(), DIGEST.to_owned())].into());
            }),
            Severity::Error,
            "pod_annotations",
        ),
        (
            "token digest through both attributes",
            Box::new(|m| {
                m.token_digest = Some(DIGEST.into());
                m.secret_digests = Some([("token".to_owned(), DIGEST.to_owned())].into());
            }),
            Severity::Error,
            "secret_digests[\"token\"]",
        ),
    ];
    for (name, change, severity, path) in cases {
        let mut model = base();
        change(&mut model);
        let mut diagnostics = Diagnostics::new();
        let wanted = desired(&model, &mut diagnostics);
        let found = paths(&diagnostics, severity);
        assert!(
            found.iter().any(|p| p.starts_with(path)),
            "{name}: wanted {severity:?} at {path}, got {diagnostics:?}"
        );
        assert_eq!(wanted.is_some(), severity == Severity::Warning, "{name}");
        assert!(
            !format!("{diagnostics:?}").contains("hunter2"),
            "{name}: a secret value in a diagnostic"
        );
    }
}

#[test]
fn an_update_runs_helm_only_when_helm_would_change_something() {
    let state = |digest: &str, status: &str, drift: Vec<Value>| {
        Value::object([
            ("values_digest", Value::from(digest)),
            ("status", Value::from(status)),
            ("drifted_objects", Value::List(drift)),
            ("chart_version", Value::from("0.86.0")),
            ("chart", Value::from("gitlab-runner")),
            ("repository", Value::Null),
            ("repository_username", Value::Null),
        ])
    };
    let plan = state("sha256:a", "deployed", vec![]);
    assert!(!needs_helm(&state("sha256:a", "deployed", vec![]), &plan));
    assert!(needs_helm(&state("sha256:b", "deployed", vec![]), &plan));
    assert!(needs_helm(&state("sha256:a", "failed", vec![]), &plan));
    assert!(needs_helm(
        &state(
            "sha256:a",
            "deployed",
            vec![Value::from("Role ci/x: object deleted")]
        ),
        &plan
    ));
}

/// Values of type `ty` to try in place of an attribute's (the first valid one that changes the
/// chart values tells the attribute reaches them).
fn candidates(ty: &Type) -> Vec<Value> {
    let strings = || {
        [
            format!("sha256:{}", "a".repeat(64)),
            "{\"nodeAffinity\":{}}".to_owned(),
            "debug".to_owned(),
            "json".to_owned(),
            "Always".to_owned(),
            "other-name".to_owned(),
            "https://gitlab.other.example.com".to_owned(),
            "metrics:\n  enabled: true\n".to_owned(),
        ]
        .map(Value::from)
    };
    match ty {
        Type::String => strings().to_vec(),
        Type::Bool => vec![Value::Bool(true), Value::Bool(false)],
        Type::Number => vec![
            Value::from(2_i64),
            Value::from(5_i64),
            Value::from(1000_i64),
        ],
        Type::List(element) | Type::Set(element) => candidates(element)
            .into_iter()
            .map(|item| Value::List(vec![item]))
            .collect(),
        Type::Map(element) => candidates(element)
            .into_iter()
            .map(|item| Value::Map([("example.com/a".to_owned(), item)].into()))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_input_reaches_helm_through_the_values_or_is_classified() {
    let schema = super::schema::schema();
    let ty = Arc::new(schema.value_type());
    let mut config = Value::null_object(&ty);
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
        *config.at_mut(&AttributePath::new(name)).unwrap() = Value::from(value);
    }
    let digest_of = |value: &Value| {
        let model: ReleaseModel = Document::new(ty.clone(), value.clone()).get().ok()?;
        desired(&model, &mut Diagnostics::new()).map(|wanted| wanted.values_digest)
    };
    let base = digest_of(&config).expect("the base configuration is valid");
    let mut value_inputs = 0;
    for (name, attribute) in &schema.block.attributes {
        if !(attribute.required || attribute.optional) || name == "runner_config_toml" {
            continue; // results; the base's runner TOML (a chart value) stays set
        }
        let reaches_values = candidates(&attribute.value_type())
            .into_iter()
            .any(|candidate| {
                let mut changed = config.clone();
                *changed.at_mut(&AttributePath::new(name.clone())).unwrap() = candidate;
                digest_of(&changed).is_some_and(|digest| digest != base)
            });
        let classified =
            CHART_INPUTS.contains(&name.as_str()) || RUN_INPUTS.contains(&name.as_str());
        assert!(
            reaches_values != classified,
            "{name}: {}",
            if classified {
                "listed as not a chart value, but it changes the chart values"
            } else {
                "neither a chart value nor in CHART_INPUTS / RUN_INPUTS: a change would not run helm"
            }
        );
        value_inputs += usize::from(reaches_values);
    }
    assert!(
        value_inputs > 10,
        "only {value_inputs} chart-value inputs seen"
    );
    for name in CHART_INPUTS.iter().chain(RUN_INPUTS) {
        assert!(
            schema.block.attributes.contains_key(*name),
            "{name} is not an attribute"
        );
    }
}
