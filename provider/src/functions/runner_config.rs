//! `provider::gitlabrunner::runner_config(object)`: the `runner` block's settings → the
//! config.toml text for `runners.config`, for users of a plain `helm_release`. Same renderer and
//! checks as `gitlabrunner_release`.

use tfplugin::{
    Function, FunctionDefinition, FunctionError, Parameter, Type, Value, async_trait, model,
};

use crate::resources::release::desired::typed_runner_finding;
use crate::resources::release::model::RunnerModel;
use crate::resources::release::runner::runner_input;

/// The `runner_config` function.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunnerConfig;

/// Renders the TOML for `settings` (the `runner` block's attributes as an object; nested blocks
/// as objects or lists of objects).
pub fn render_settings(settings: Value) -> Result<String, FunctionError> {
    let model: RunnerModel = model::from_value(settings).map_err(|error| {
        FunctionError::argument(
            0,
            format!("The settings do not match the runner block: {error}."),
        )
    })?;
    let base = tfplugin::AttributePath::root();
    let input = runner_input(&model, &base).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                if e.path.is_root() {
                    e.detail.clone()
                } else {
                    format!("{}: {}", e.path, e.detail)
                }
            })
            .collect();
        FunctionError::argument(0, lines.join("\n"))
    })?;
    gitlab_runner_chart::render_runner_config(&input).map_err(|findings| {
        let lines: Vec<String> = findings
            .iter()
            .map(|finding| {
                let diagnostic = typed_runner_finding(finding, &base);
                format!("{}: {}", diagnostic.summary, diagnostic.detail)
            })
            .collect();
        FunctionError::argument(0, lines.join("\n"))
    })
}

#[async_trait]
impl Function for RunnerConfig {
    fn name(&self) -> &'static str {
        "runner_config"
    }

    fn definition(&self) -> FunctionDefinition {
        FunctionDefinition::new(Type::String)
            .parameter(
                Parameter::new("settings", Type::Dynamic)
                    .description("The runner settings, spelled like the `runner` block of `gitlabrunner_release` (e.g. `{ kubernetes = { privileged = true, allowed_images = [\"docker:*\"] } }`)."),
            )
            .summary("Renders GitLab Runner config.toml for the chart's runners.config")
            .description(
                "Renders typed runner settings to the TOML the `gitlab-runner` chart takes in `runners.config`, checked the way \
                 `gitlabrunner_release` checks it. Credentials have no setting: the cache reads them from the Secret named by \
                 `runners.cache.secretName`.",
            )
    }

    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError> {
        let settings = arguments.into_iter().next().ok_or_else(|| {
            FunctionError::new("runner_config takes one argument: the runner settings object.")
        })?;
        render_settings(settings).map(Value::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(entries: Vec<(&str, Value)>) -> Value {
        Value::object(entries)
    }

    #[test]
    fn renders_the_seed_dind_settings_from_objects() {
        let settings = object(vec![(
            "kubernetes",
            object(vec![
                ("privileged", Value::from(true)),
                (
                    "allowed_images",
                    Value::Tuple(vec![Value::from("docker:*")]),
                ),
                (
                    "empty_dir_volume",
                    Value::Tuple(vec![object(vec![
                        ("name", Value::from("docker-certs")),
                        ("mount_path", Value::from("/certs/client")),
                        ("medium", Value::from("Memory")),
                    ])]),
                ),
            ]),
        )]);
        let toml = render_settings(settings).unwrap();
        assert!(toml.contains("[[runners]]"), "{toml}");
        assert!(toml.contains("privileged = true"), "{toml}");
        assert!(toml.contains("medium = \"Memory\""), "{toml}");
        assert!(toml.contains("\"docker:*\""), "{toml}");
    }

    #[test]
    fn unknown_settings_and_bad_values_are_argument_errors() {
        let typo = object(vec![("kubernets", object(vec![]))]);
        let error = render_settings(typo).unwrap_err();
        assert_eq!(error.argument, Some(0));
        assert!(error.text.contains("kubernets"), "{}", error.text);
        let bad = object(vec![(
            "environment",
            Value::Tuple(vec![Value::from("NOEQUALS")]),
        )]);
        let error = render_settings(bad).unwrap_err();
        assert!(error.text.contains("environment"), "{}", error.text);
    }
}
