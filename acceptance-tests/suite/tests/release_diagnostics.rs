//! Each bad `gitlabrunner_release` input gets its own diagnostic, at its attribute, from real
//! `terraform validate` (no cluster needed: these are plan-time checks).

mod release_support;

use acceptance::{TerraformWorkdir, Tools};

fn resource(label: &str, body: &str) -> String {
    format!(
        r#"
resource "gitlabrunner_release" "{label}" {{
  name              = "runner-{label}"
  namespace         = "ci"
  chart             = "/charts/gitlab-runner"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = "runner-token"
{body}
}}
"#
    )
}

const GOOD_RUNNER: &str = r#"
  runner {
    kubernetes {
      image = "alpine:3.20"
    }
  }
"#;

#[test]
fn every_bad_input_has_its_diagnostic() {
    let tools = Tools::locate();
    let dir = TerraformWorkdir::new(&tools.terraform, &tools.provider);
    let mut config = format!(
        "terraform {{\n  required_providers {{\n    gitlabrunner = {{\n      source = \"{}\"\n    }}\n  }}\n}}\n",
        acceptance::PROVIDER_SOURCE
    );
    let cases: Vec<(&str, String)> = vec![
        ("syntax", "  runner_config_toml = \"[[runners]]\\n  executor = \\\"kubernetes\\n\"".to_owned()),
        (
            "both",
            format!("{GOOD_RUNNER}\n  runner_config_toml = \"[[runners]]\\n  executor = \\\"kubernetes\\\"\\n\""),
        ),
        ("neither", String::new()),
        (
            "conflict",
            format!("{GOOD_RUNNER}\n  concurrent = 4\n  values = [yamlencode({{ concurrent = 3, metrics = {{ enabled = true }} }})]"),
        ),
        (
            "credentials",
            format!("{GOOD_RUNNER}\n  values = [yamlencode({{ runnerToken = \"glrt-t1_AbCdEfGhIjKlMnOpQrStU\" }})]"),
        ),
        (
            "privileged",
            "  runner {\n    kubernetes {\n      privileged = true\n    }\n  }".to_owned(),
        ),
        ("rbac", format!("{GOOD_RUNNER}\n  rbac {{\n    create = true\n  }}")),
        (
            "token",
            "  runner_config_toml = \"[[runners]]\\n  token = \\\"glrt-t1_AbCdEfGhIjKlMnOpQrStU\\\"\\n\"".to_owned(),
        ),
        (
            "typo",
            "  runner_config_toml = \"[[runners]]\\n  [runners.kubernetes]\\n    privilegd = true\\n\"".to_owned(),
        ),
        ("digest", format!("{GOOD_RUNNER}\n  token_digest = \"glrt-t1_AbCdEfGhIjKlMnOpQrStU\"")),
        ("affinity", format!("{GOOD_RUNNER}\n  affinity = \"[1, 2]\"")),
    ];
    for (label, body) in &cases {
        config.push_str(&resource(label, body));
    }
    config.push_str(
        r#"
resource "gitlabrunner_release" "long" {
  name              = "a-release-name-that-is-far-too-long-for-helm-to-accept-it"
  namespace         = "ci"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = "runner-token"
  runner {}
}
"#,
    );
    dir.write("main.tf", &config);
    let run = dir.validate();
    run.expect_code(1);
    let out = run.output();
    // Terraform prints each diagnostic as "Error: …" / "Warning: …", then "with <address>,".
    let mut diagnostics: Vec<String> = Vec::new();
    for line in out.lines() {
        if line.starts_with("Error: ") || line.starts_with("Warning: ") {
            diagnostics.push(String::new());
        }
        if let Some(current) = diagnostics.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    let block_of = |label: &str| -> String {
        diagnostics
            .iter()
            .filter(|d| d.contains(&format!("with gitlabrunner_release.{label},")))
            .cloned()
            .collect::<Vec<_>>()
            .join("---\n")
    };
    let expect = |label: &str, needles: &[&str]| {
        let text = block_of(label);
        for needle in needles {
            assert!(
                text.contains(needle),
                "diagnostic for {label} lacks {needle:?}:\n{text}\n\nfull output:\n{out}"
            );
        }
    };
    expect(
        "syntax",
        &["Error: Invalid TOML", "runner_config_toml line 2, column"],
    );
    expect("both", &["Error: Conflicting Runner Configuration"]);
    expect("neither", &["Error: Missing Runner Configuration"]);
    expect(
        "conflict",
        &["Error: Values Conflict With Typed Attributes", "concurrent"],
    );
    expect(
        "credentials",
        &["Warning: Credentials In Chart Values", "runnerToken"],
    );
    expect(
        "privileged",
        &["Warning: Privileged Jobs Without allowed_images"],
    );
    expect(
        "rbac",
        &["Error: Invalid Chart Setting", "allow_chart_default_rules"],
    );
    expect(
        "token",
        &[
            "Error:",
            "in Runner Configuration",
            "runner_config_toml line 2",
        ],
    );
    expect(
        "typo",
        &["Warning: Unknown Runner Configuration Key", "privileged"],
    );
    expect("digest", &["Error: Invalid Token Digest"]);
    expect("affinity", &["Error: Invalid Affinity"]);
    expect("long", &["Error: Invalid Name", "53"]);
    // Our details never repeat a secret value (Terraform itself quotes the source line).
    for d in &diagnostics {
        let detail: String = d
            .lines()
            .filter(|l| !l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert!(
            !detail.contains(release_support::RUNNER_TOKEN),
            "a token appeared in a diagnostic:\n{d}"
        );
    }
}
