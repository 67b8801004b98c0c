//! Real `helm template` (helm 4 from `HELM4_BIN`, helm 3 from `HELM3_BIN`, else
//! `<workspace>/tools/bin/{helm,helm3}`; `scripts/install-tools.sh` installs them) renders a chart that
//! treats `runners.config` the way the gitlab-runner chart does (`tpl`, then into a ConfigMap). The
//! rendered TOML must come out holding exactly the typed values — literal `{{` included — and user
//! templates inside strings must render as Helm renders them.

use std::path::PathBuf;
use std::process::Command;

use gitlab_runner_chart::{
    KubernetesConfig, RunnerConfigInput, render_runner_config, validate_runner_config,
};

fn helm(variable: &str, file: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = workspace.join("tools/bin").join(file);
    assert!(
        path.exists(),
        "{} not found: set {variable} or run scripts/install-tools.sh",
        path.display()
    );
    path
}

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-runner
data:
  config.template.toml: |
{{ tpl .Values.runners.config . | indent 4 }}
"#;

/// `config.template.toml` as `helm template` renders it for `runners.config = config`.
fn render_with_helm(binary: &PathBuf, config: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: tpl-probe\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("templates/configmap.yaml"), CONFIGMAP).expect("template");
    let values = serde_json::json!({ "runners": { "config": config }, "jobImage": "alpine:3.20" });
    let values_path = dir.path().join("values.json");
    std::fs::write(&values_path, values.to_string()).expect("values");
    let output = Command::new(binary)
        .args(["template", "probe"])
        .arg(&chart)
        .arg("--values")
        .arg(&values_path)
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .expect("run helm");
    assert!(
        output.status.success(),
        "{} template failed: {}",
        binary.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(&output.stdout).expect("helm output is YAML");
    manifest["data"]["config.template.toml"]
        .as_str()
        .expect("config.template.toml rendered")
        .to_owned()
}

fn binaries() -> [PathBuf; 2] {
    [helm("HELM4_BIN", "helm"), helm("HELM3_BIN", "helm3")]
}

#[test]
fn typed_values_with_template_braces_survive_helm_tpl_unchanged() {
    let tricky = "{{ .Release.Name }} and {{- oops";
    let input = RunnerConfigInput {
        name: Some("probe".to_owned()),
        environment: [("GREETING".to_owned(), tricky.to_owned())].into(),
        kubernetes: KubernetesConfig {
            pod_annotations: [("note".to_owned(), "}} {{{".to_owned())].into(),
            ..KubernetesConfig::default()
        },
        ..RunnerConfigInput::default()
    };
    let config = render_runner_config(&input).expect("renders");
    // The validator checks the text before tpl, where the braces are escaped actions.
    assert!(validate_runner_config(&config).is_empty(), "{config}");
    for binary in binaries() {
        let rendered = render_with_helm(&binary, &config);
        let document: toml_edit::DocumentMut = rendered.parse().expect("helm's output is TOML");
        let runner = &document["runners"][0];
        assert_eq!(
            runner["environment"][0].as_str(),
            Some(format!("GREETING={tricky}").as_str())
        );
        assert_eq!(
            runner["kubernetes"]["pod_annotations"]["note"].as_str(),
            Some("}} {{{")
        );
    }
}

#[test]
fn user_templates_inside_strings_render_as_the_validator_assumed() {
    let config = "[[runners]]\n  name = \"{{ .Release.Name }}\"\n  [runners.kubernetes]\n    image = \"{{ .Values.jobImage }}\"\n";
    assert!(validate_runner_config(config).is_empty());
    for binary in binaries() {
        let rendered = render_with_helm(&binary, config);
        let document: toml_edit::DocumentMut = rendered.parse().expect("TOML");
        assert_eq!(document["runners"][0]["name"].as_str(), Some("probe"));
        assert_eq!(
            document["runners"][0]["kubernetes"]["image"].as_str(),
            Some("alpine:3.20")
        );
    }
}
