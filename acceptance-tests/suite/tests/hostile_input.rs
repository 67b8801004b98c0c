//! Hostile or huge `gitlabrunner_release` input is refused at its attribute by real
//! `terraform validate`, at once, before any parser does work that grows with it (no cluster
//! needed: these are plan-time checks).

use acceptance::{TerraformWorkdir, Tools};

fn config(body: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    gitlabrunner = {{
      source = "{}"
    }}
  }}
}}

resource "gitlabrunner_release" "hostile" {{
  name              = "runner-hostile"
  namespace         = "ci"
  chart             = "/charts/gitlab-runner"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = "runner-token"
{body}
}}
"#,
        acceptance::PROVIDER_SOURCE
    )
}

#[test]
fn deeply_nested_values_are_refused_at_their_attribute() {
    let tools = Tools::locate();
    let dir = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    // 100 000 levels took libyaml minutes before it said "recursion limit exceeded".
    let depth = 100_000;
    dir.write(
        "deep.yaml",
        &format!("metrics: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
    );
    dir.write(
        "main.tf",
        &config(
            "  runner {\n    kubernetes {\n      image = \"alpine:3.20\"\n    }\n  }\n  values = [file(\"${path.module}/deep.yaml\")]",
        ),
    );
    let run = dir.validate();
    run.expect_code(1);
    let out = run.output();
    for needle in [
        "Error: Invalid Values YAML",
        "values[0]",
        "more than 256 levels deep",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}:\n{out}");
    }
}

#[test]
fn a_runner_configuration_over_the_configmap_limit_is_refused_at_its_attribute() {
    let tools = Tools::locate();
    let dir = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    let mut toml = String::from("[[runners]]\n  executor = \"kubernetes\"\n");
    while toml.len() <= 1024 * 1024 {
        toml.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    dir.write("config.toml", &toml);
    dir.write(
        "main.tf",
        &config("  runner_config_toml = file(\"${path.module}/config.toml\")"),
    );
    let run = dir.validate();
    run.expect_code(1);
    let out = run.output();
    for needle in [
        "Error: Runner Configuration Too Large",
        "runner_config_toml",
        "1048576 bytes",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}:\n{out}");
    }
}
