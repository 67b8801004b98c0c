use std::sync::Arc;

use serde_json::json;
use tfplugin::{AttributePath, Diagnostics, Document, Severity, Value};

use super::*;
use crate::resources::release::schema::schema;

const SEED_TOML: &str = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    namespace = \"{{ .Release.Namespace }}\"\n";

/// The values of a release installed with `helm install -f values.yaml` in the seed's style.
fn seed_values() -> Json {
    json!({
        "gitlabUrl": "https://gitlab.example.com/",
        "concurrent": 4,
        "rbac": {"create": true, "rules": [
            {"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get", "create"]}
        ]},
        "runners": {"secret": "gitlab-runner-token", "config": SEED_TOML, "tags": "k8s"},
        "podAnnotations": {"team": "ci"},
        "envVars": [{"name": "A", "value": "1"}],
        "imagePullSecrets": [{"name": "pull"}],
        "metrics": {"enabled": true}
    })
}

fn record(config: Json) -> ReleaseRecord {
    ReleaseRecord {
        name: "gitlab-runner".into(),
        namespace: "ci".into(),
        version: 1,
        status: helm_driver::ReleaseStatus::Deployed,
        chart_name: "gitlab-runner".into(),
        chart_version: "0.86.0".into(),
        app_version: None,
        config,
        manifest: String::new(),
        first_deployed: None,
        last_deployed: None,
        description: None,
        apply_method: None,
    }
}

fn imported_state() -> Document {
    let mut state = Document::null(Arc::new(schema().value_type()));
    state
        .set_attr(&AttributePath::new("namespace"), &"ci")
        .unwrap();
    state
        .set_attr(&AttributePath::new("name"), &"gitlab-runner")
        .unwrap();
    state
}

fn summaries(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.severity, Severity::Warning, "{d:?}");
            d.summary.clone()
        })
        .collect()
}

#[test]
fn seed_values_read_back_into_typed_attributes_and_values() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    adopt(&mut state, &record(seed_values()), &mut diagnostics).unwrap();
    let model: ReleaseModel = state.get().unwrap();
    assert_eq!(
        model.gitlab_url.as_deref(),
        Some("https://gitlab.example.com/")
    );
    assert_eq!(model.concurrent, Some(4));
    assert_eq!(
        model.token_secret_name.as_deref(),
        Some("gitlab-runner-token")
    );
    assert_eq!(model.runner_config_toml.as_deref(), Some(SEED_TOML));
    assert_eq!(model.chart.as_deref(), Some("gitlab-runner"));
    assert_eq!(model.rbac.len(), 1);
    assert_eq!(model.rbac[0].create, Some(true));
    assert_eq!(
        model.rbac[0].rule[0].resources,
        Some(vec!["pods".to_owned(), "pods/exec".to_owned()])
    );
    assert_eq!(model.image_pull_secrets, Some(vec!["pull".to_owned()]));
    assert_eq!(model.env.unwrap()["A"], "1");
    assert_eq!(model.pod_annotations.unwrap()["team"], "ci");
    // Nothing lost: the keys no attribute covers are kept in values.
    let values: Vec<Json> = model
        .values
        .unwrap()
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    assert_eq!(
        values,
        [json!({"runners": {"tags": "k8s"}, "metrics": {"enabled": true}})]
    );
    let summaries = summaries(&diagnostics);
    assert!(
        summaries.contains(&"Chart Repository Not Recorded".to_owned()),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"Helm Template In Runner Configuration".to_owned()),
        "{summaries:?}"
    );
    let template = diagnostics
        .iter()
        .find(|d| d.summary == "Helm Template In Runner Configuration")
        .unwrap();
    assert!(
        template.detail.contains("namespace = \"ci\""),
        "{}",
        template.detail
    );
    let differences = diagnostics
        .iter()
        .find(|d| d.summary == "Imported Release Values Differ")
        .unwrap();
    // What the provider pins, named in the list; what was read back is not a difference.
    let listed = listed_differences(&diagnostics);
    for key in [
        "replicas",
        "runners.name",
        "rbac.clusterWideAccess",
        "unregisterRunners",
    ] {
        assert!(listed.contains(&key.to_owned()), "{listed:?}");
    }
    for key in ["gitlabUrl", "concurrent", "runners.config", "metrics"] {
        assert!(
            !differences.detail.contains(&format!(" {key},")),
            "{}",
            differences.detail
        );
    }
}

#[test]
fn the_adopted_configuration_renders_the_installed_values_plus_only_the_pins() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    adopt(&mut state, &record(seed_values()), &mut diagnostics).unwrap();
    let model: ReleaseModel = state.get().unwrap();
    let mut problems = Diagnostics::new();
    let wanted = desired(&model, &mut problems).expect("the adopted attributes are valid");
    assert!(!problems.has_errors(), "{problems:?}");
    let mut keys = Vec::new();
    differing_keys(&wanted.values, &seed_values(), "", &mut keys);
    assert_eq!(
        keys,
        [
            "rbac.clusterWideAccess",
            "replicas",
            "runners.name",
            "serviceAccount.imagePullSecrets",
            "unregisterRunners"
        ]
    );
}

#[test]
fn values_no_attribute_can_hold_stay_in_values() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    let odd = json!({
        "gitlabUrl": "https://gitlab.example.com/",
        "concurrent": "four",
        "envVars": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "runners": {"config": "[[runners]]\n"}
    });
    adopt(&mut state, &record(odd), &mut diagnostics).unwrap();
    let model: ReleaseModel = state.get().unwrap();
    assert_eq!(model.concurrent, None);
    assert_eq!(model.env, None);
    let values: Json = serde_json::from_str(&model.values.unwrap()[0]).unwrap();
    assert_eq!(values["concurrent"], "four");
    assert_eq!(values["envVars"][0]["name"], "A");
}

#[test]
fn rbac_create_without_rules_keeps_the_chart_defaults_and_says_so() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    let values = json!({"gitlabUrl": "https://g.example/", "rbac": {"create": true},
        "runners": {"config": "[[runners]]\n", "secret": "t"}});
    adopt(&mut state, &record(values), &mut diagnostics).unwrap();
    let model: ReleaseModel = state.get().unwrap();
    assert_eq!(model.rbac[0].allow_chart_default_rules, Some(true));
    assert!(summaries(&diagnostics).contains(&"Chart Default RBAC Rules Adopted".to_owned()));
}

#[test]
fn a_token_digest_annotation_becomes_token_digest() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let read = mapping::read_back(
        &json!({"podAnnotations": {"gitlabrunner.io/token-digest": digest, "x": "y"}}),
        &schema().value_type(),
    );
    assert_eq!(read.attributes["token_digest"], json!(digest));
    assert_eq!(read.attributes["pod_annotations"], json!({"x": "y"}));
}

#[test]
fn release_templates_render_to_their_literal() {
    let (text, complete) = render_release_templates(
        "a = \"{{ .Release.Namespace }}\"\nb = \"{{- .Release.Name -}}\"\n",
        "ci",
        "r",
    );
    assert!(complete);
    assert_eq!(text, "a = \"ci\"\nb = \"r\"\n");
    let (_, complete) = render_release_templates("a = \"{{ .Values.x }}\"\n", "ci", "r");
    assert!(!complete);
    assert!(template_warning("a = 1\n", "ci", "r").is_none());
}

/// One table, two directions: every input that reaches the chart values (tried with a value
/// of its type, as `desired_tests` does) reads back from the rendered values into the same
/// attribute and value — or, for `values`, into `values`.
#[test]
fn every_value_input_reads_back_through_the_key_table() {
    let schema = schema();
    let ty = Arc::new(schema.value_type());
    let mut base = Value::null_object(&ty);
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
        *base.at_mut(&AttributePath::new(name)).unwrap() = Value::from(value);
    }
    let values_of = |config: &Value| {
        let model: ReleaseModel = Document::new(ty.clone(), config.clone()).get().ok()?;
        desired(&model, &mut Diagnostics::new()).map(|wanted| wanted.values)
    };
    let base_values = values_of(&base).expect("the base configuration is valid");
    let mut checked = Vec::new();
    for (name, attribute) in &schema.block.attributes {
        // name and namespace reach the values only through defaults of other attributes.
        let skipped = ["name", "namespace", "runner_config_toml"].contains(&name.as_str());
        if !(attribute.optional || attribute.required) || skipped {
            continue;
        }
        for candidate in candidates(&attribute.value_type()) {
            let mut config = base.clone();
            *config.at_mut(&AttributePath::new(name.clone())).unwrap() = candidate.clone();
            let Some(values) = values_of(&config).filter(|v| *v != base_values) else {
                continue;
            };
            let read = mapping::read_back(&values, &ty);
            let mut state = Document::null(ty.clone());
            write_attributes(&mut state, &read, None).unwrap();
            let back = state.attr(&AttributePath::new(name.clone())).cloned();
            if name == "values" {
                assert!(!read.rest.is_empty(), "values: {values}");
            } else {
                assert_eq!(back, Some(candidate), "{name}: {values}");
            }
            checked.push(name.clone());
            break;
        }
    }
    for name in [
        "concurrent",
        "gitlab_url",
        "token_digest",
        "env",
        "pod_annotations",
        "values",
    ] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} not tried: {checked:?}"
        );
    }
}

/// Values of type `ty` to try for an attribute (the first valid one that changes the values).
fn candidates(ty: &tfplugin::Type) -> Vec<Value> {
    use tfplugin::Type;
    let strings = [
        format!("sha256:{}", "a".repeat(64)),
        "{\"nodeAffinity\":{}}".to_owned(),
        "debug".to_owned(),
        "json".to_owned(),
        "Always".to_owned(),
        "other-name".to_owned(),
        "https://gitlab.other.example.com".to_owned(),
        "metrics:\n  enabled: true\n".to_owned(),
    ];
    match ty {
        Type::String => strings.into_iter().map(Value::from).collect(),
        Type::Bool => vec![Value::Bool(true), Value::Bool(false)],
        Type::Number => vec![
            Value::from(2_i64),
            Value::from(5_i64),
            Value::from(1000_i64),
        ],
        Type::List(element) => candidates(element)
            .into_iter()
            .map(|item| Value::List(vec![item]))
            .collect(),
        Type::Map(element) => candidates(element)
            .into_iter()
            .map(|item| Value::Map([("example-a".to_owned(), item)].into()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The keys the "Imported Release Values Differ" warning lists (empty without the warning).
fn listed_differences(diagnostics: &Diagnostics) -> Vec<String> {
    let Some(warning) = diagnostics
        .iter()
        .find(|d| d.summary == "Imported Release Values Differ")
    else {
        return Vec::new();
    };
    let (_, list) = warning
        .detail
        .split_once("installed with at: ")
        .expect("the warning lists keys");
    let (list, _) = list.split_once(". ").expect("the list ends");
    list.split(", ").map(str::to_owned).collect()
}

/// The seed's values with the keys this provider pins set as it pins them.
fn pinned_seed_values(unregister_runners: Json) -> Json {
    let mut values = seed_values();
    values["replicas"] = json!(1);
    values["runners"]["name"] = json!("ci-gitlab-runner");
    values["rbac"]["clusterWideAccess"] = json!(false);
    values["serviceAccount"] = json!({"imagePullSecrets": ["pull"]});
    values["unregisterRunners"] = unregister_runners;
    values
}

#[test]
fn an_installed_pin_equal_to_the_rendered_one_is_neither_in_values_nor_a_difference() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    let installed = pinned_seed_values(json!(false));
    adopt(&mut state, &record(installed.clone()), &mut diagnostics).unwrap();
    let model: ReleaseModel = state.get().unwrap();
    let values: Json = serde_json::from_str(&model.values.clone().unwrap()[0]).unwrap();
    assert_eq!(
        values,
        json!({"runners": {"tags": "k8s"}, "metrics": {"enabled": true}})
    );
    assert_eq!(listed_differences(&diagnostics), Vec::<String>::new());
    let mut problems = Diagnostics::new();
    let wanted = desired(&model, &mut problems).expect("the adopted configuration validates");
    let mut keys = Vec::new();
    differing_keys(&wanted.values, &installed, "", &mut keys);
    assert_eq!(keys, Vec::<String>::new());
}

#[test]
fn an_installed_pin_other_than_the_rendered_one_is_a_named_difference_not_a_value() {
    let mut state = imported_state();
    let mut diagnostics = Diagnostics::new();
    adopt(
        &mut state,
        &record(pinned_seed_values(json!(true))),
        &mut diagnostics,
    )
    .unwrap();
    let model: ReleaseModel = state.get().unwrap();
    let values: Json = serde_json::from_str(&model.values.clone().unwrap()[0]).unwrap();
    assert!(values.get("unregisterRunners").is_none(), "{values}");
    assert_eq!(listed_differences(&diagnostics), ["unregisterRunners"]);
    let mut problems = Diagnostics::new();
    assert!(
        desired(&model, &mut problems).is_some(),
        "the adopted configuration validates: {problems:?}"
    );
}
