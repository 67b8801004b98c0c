use std::sync::Arc;

use serde_json::json;
use tfplugin::Document;

use super::*;
use crate::resources::release::model::ReleaseModel;
use crate::resources::release::schema::schema;

const TOML: &str = "[[runners]]\n  executor = \"kubernetes\"\n";

/// A `helm_release` as the helm provider 2.x stores it (schema version 1): `set` and
/// `metadata` are lists of blocks.
fn helm_2x_state() -> Json {
    json!({
        "id": "gitlab-runner",
        "name": "gitlab-runner",
        "namespace": "ci",
        "repository": "https://charts.gitlab.io",
        "chart": "gitlab-runner",
        "version": "0.86.0",
        "values": [
            format!("gitlabUrl: https://gitlab.example.com/\nconcurrent: 2\nrunners:\n  secret: tok\n  config: |\n{}", TOML.lines().map(|l| format!("    {l}\n")).collect::<String>()),
            "concurrent: 4\nmetrics:\n  enabled: true\n"
        ],
        "set": [
            {"name": "rbac.create", "value": "true", "type": ""},
            {"name": "podLabels.team\\.name", "value": "0042", "type": "auto"},
            {"name": "logLevel", "value": "debug", "type": "string"}
        ],
        "set_list": [],
        "set_sensitive": [{"name": "runners.cache.s3.secretKey", "value": "hidden", "type": ""}],
        "repository_password": "repo-secret",
        "create_namespace": false,
        "wait": true,
        "atomic": false,
        "timeout": 600,
        "status": "deployed",
        "metadata": [{"name": "gitlab-runner", "namespace": "ci", "revision": 3,
            "chart": "gitlab-runner", "version": "0.86.0", "app_version": "v18.6.0", "values": "{}"}]
    })
}

/// The same release as the helm provider 3.x stores it (schema version 2): `set` is a list of
/// objects, `metadata` one object.
fn helm_3x_state() -> Json {
    let mut state = helm_2x_state();
    state["metadata"] = state["metadata"][0].clone();
    state
}

fn request(state: Json, version: i64) -> MoveStateRequest {
    MoveStateRequest {
        source_provider_address: "registry.terraform.io/hashicorp/helm".into(),
        source_type_name: HELM_RELEASE.into(),
        source_schema_version: version,
        source_state: state,
        source_private: Vec::new(),
    }
}

fn moved(state: Json, version: i64) -> (ReleaseModel, Document, Diagnostics) {
    let mut target = Document::null(Arc::new(schema().value_type()));
    let mut diagnostics = Diagnostics::new();
    move_helm_release(&request(state, version), &mut target, &mut diagnostics).unwrap();
    (target.get().unwrap(), target, diagnostics)
}

#[test]
fn helm_provider_2x_and_3x_states_move_into_typed_attributes() {
    for (state, version) in [(helm_2x_state(), 1), (helm_3x_state(), 2)] {
        let (model, document, diagnostics) = moved(state, version);
        assert_eq!(
            model.id.known().map(String::as_str),
            Some("ci/gitlab-runner")
        );
        assert_eq!(
            model.repository.as_deref(),
            Some("https://charts.gitlab.io")
        );
        assert_eq!(
            model.chart_version.known().map(String::as_str),
            Some("0.86.0")
        );
        assert_eq!(
            model.gitlab_url.as_deref(),
            Some("https://gitlab.example.com/")
        );
        // values documents coalesce in order; set entries apply last, typed as helm types them.
        assert_eq!(model.concurrent, Some(4));
        assert_eq!(model.rbac[0].create, Some(true));
        assert_eq!(model.log_level.as_deref(), Some("debug"));
        assert_eq!(model.pod_labels.unwrap()["team.name"], "0042");
        assert_eq!(model.runner_config_toml.as_deref(), Some(TOML));
        assert_eq!(model.token_secret_name.as_deref(), Some("tok"));
        assert_eq!(model.timeout, Some(600));
        assert_eq!(model.revision.known(), Some(&3));
        let rest: Json = serde_json::from_str(&model.values.unwrap()[0]).unwrap();
        assert_eq!(rest, json!({"metrics": {"enabled": true}}));
        // Secrets stay behind, with a warning each.
        let stored = tfplugin::codec::json::encode(document.value_type(), document.value())
            .unwrap()
            .to_string();
        assert!(
            !stored.contains("hidden") && !stored.contains("repo-secret"),
            "{stored}"
        );
        let summaries: Vec<&str> = diagnostics.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "Sensitive Values Not Moved",
                "Repository Password Not Moved"
            ]
        );
    }
}

#[test]
fn other_sources_and_unknown_versions_are_refused() {
    assert!(!is_helm_release(&MoveStateRequest {
        source_type_name: "kubernetes_manifest".into(),
        ..request(json!({}), 1)
    }));
    assert!(!is_helm_release(&MoveStateRequest {
        source_provider_address: "registry.terraform.io/example/helm".into(),
        ..request(json!({}), 1)
    }));
    let mut target = Document::null(Arc::new(schema().value_type()));
    let error = move_helm_release(
        &request(helm_2x_state(), 9),
        &mut target,
        &mut Diagnostics::new(),
    )
    .unwrap_err();
    assert!(
        format!("{error:?}").contains("schema version 9"),
        "{error:?}"
    );
}

#[test]
fn set_paths_follow_helm() {
    let mut values = Map::new();
    set_path(&mut values, "a.b\\.c", typed_value("12")).unwrap();
    set_path(&mut values, "a.d", typed_value("012")).unwrap();
    set_path(&mut values, "e", typed_value("null")).unwrap();
    assert_eq!(
        Json::Object(values.clone()),
        json!({"a": {"b.c": 12, "d": "012"}, "e": null})
    );
    assert!(set_path(&mut values, "list[0].x", Json::Null).is_err());
}
