//! Table-driven tests for `validate_runner_config`: one case per rule.

use gitlab_runner_chart::{Finding, Position, Rule, Severity, validate_runner_config};

const SEED_DIND: &str = r#"
[[runners]]
  name = "dind"
  executor = "kubernetes"
  [runners.kubernetes]
    image = "docker:27"
    privileged = true
    allowed_images = ["docker:*"]
    [[runners.kubernetes.volumes.empty_dir]]
      name = "docker-certs"
      mount_path = "/certs/client"
      medium = "Memory"
"#;

fn only(findings: &[Finding], rule: Rule) -> Vec<&Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn describe(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("{f}\n")).collect()
}

#[test]
fn a_clean_configuration_has_no_findings() {
    let findings = validate_runner_config(SEED_DIND);
    assert!(findings.is_empty(), "{}", describe(&findings));
}

#[test]
fn syntax_errors_carry_line_and_column() {
    // (source, expected line, expected column)
    let cases = [
        (
            "[[runners]]\nname = \"x\nexecutor = \"kubernetes\"\n",
            2,
            10,
        ),
        ("[[runners]]\n  executor = kubernetes\n", 2, 14),
        ("[[runners]]\nname = \"a\"\nname = \"b\"\n", 3, 1),
        ("[[runners]\n", 1, 11),
    ];
    for (source, line, column) in cases {
        let findings = validate_runner_config(source);
        assert_eq!(findings.len(), 1, "{source:?}: {}", describe(&findings));
        let finding = &findings[0];
        assert_eq!(
            (finding.rule, finding.severity),
            (Rule::Syntax, Severity::Error)
        );
        assert_eq!(
            finding.position,
            Some(Position { line, column }),
            "{source:?}: {finding}"
        );
        assert!(
            finding
                .detail
                .starts_with("The runner configuration is not valid TOML: "),
            "{}",
            finding.detail
        );
    }
}

#[test]
fn syntax_errors_do_not_echo_the_offending_text() {
    let source = "[[runners]]\ntoken = \"glrt-SuperSecretValue123\nname = \"x\"\n";
    let findings = validate_runner_config(source);
    assert!(!findings.is_empty());
    for finding in &findings {
        assert!(!finding.to_string().contains("SuperSecret"), "{finding}");
    }
}

#[test]
fn unknown_keys_are_warnings_naming_the_closest_known_key() {
    // (source, path, text the detail must contain)
    let cases = [
        (
            "[[runners]]\n[runners.kubernetes]\nprivilegd = true\n",
            "runners[0].kubernetes.privilegd",
            "Did you mean `privileged`?",
        ),
        (
            "[[runners]]\n[runners.cache]\ntype = \"s3\"\n",
            "runners[0].cache.type",
            "Did you mean `Type`?",
        ),
        (
            "[[runners]]\n[runners.cache.s3]\nbucket_name = \"b\"\n",
            "runners[0].cache.s3.bucket_name",
            "Did you mean `BucketName`?",
        ),
        (
            "[[runners]]\nimage = \"alpine\"\n",
            "runners[0].image",
            "`image` belongs in [runners.kubernetes]",
        ),
        (
            "[[runners]]\n[[runners.kubernetes.volumes.empty_dir]]\nname = \"x\"\nmount_path = \"/x\"\nmeduim = \"Memory\"\n",
            "runners[0].kubernetes.volumes.empty_dir[0].meduim",
            "Did you mean `medium`?",
        ),
    ];
    for (source, path, hint) in cases {
        let findings = validate_runner_config(source);
        assert_eq!(findings.len(), 1, "{source:?}: {}", describe(&findings));
        let finding = &findings[0];
        assert_eq!(
            (finding.rule, finding.severity),
            (Rule::UnknownKey, Severity::Warning)
        );
        assert_eq!(finding.path.to_string(), path);
        assert!(finding.detail.contains(hint), "{}", finding.detail);
        assert!(finding.position.is_some());
    }
}

#[test]
fn secret_keys_are_errors_that_say_where_the_secret_belongs_without_the_value() {
    // (source, path, where the secret belongs)
    let cases = [
        (
            "[[runners]]\ntoken = \"glrt-AAAAsecretBBBB\"\n",
            "runners[0].token",
            "gitlabrunner_token_secret",
        ),
        (
            "[[runners]]\n[runners.cache.s3]\nAccessKey = \"AKIAsecretBBBB\"\n",
            "runners[0].cache.s3.AccessKey",
            "runners.cache.secretName",
        ),
        (
            "[[runners]]\n[runners.cache.s3]\nSecretKey = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.s3.SecretKey",
            "`secretkey`",
        ),
        (
            "[[runners]]\n[runners.cache.s3]\nSessionToken = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.s3.SessionToken",
            "runners.cache.secretName",
        ),
        (
            "[[runners]]\n[runners.cache.gcs]\nPrivateKey = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.gcs.PrivateKey",
            "gcs-private-key",
        ),
        (
            "[[runners]]\n[runners.cache.gcs]\nAccessID = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.gcs.AccessID",
            "gcs-access-id",
        ),
        (
            "[[runners]]\n[runners.cache.azure]\nAccountKey = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.azure.AccountKey",
            "azure-account-key",
        ),
        (
            "[[runners]]\n[runners.cache.azure]\nAccountName = \"AAAAsecretBBBB\"\n",
            "runners[0].cache.azure.AccountName",
            "azure-account-name",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\nbearer_token = \"AAAAsecretBBBB\"\n",
            "runners[0].kubernetes.bearer_token",
            "service account",
        ),
        (
            "sentry_dsn = \"https://AAAAsecretBBBB@sentry\"\n[[runners]]\n",
            "sentry_dsn",
            "Sentry",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\npassword = \"AAAAsecretBBBB\"\n",
            "runners[0].kubernetes.password",
            "credential",
        ),
    ];
    for (source, path, advice) in cases {
        let findings = validate_runner_config(source);
        assert_eq!(findings.len(), 1, "{source:?}: {}", describe(&findings));
        let finding = &findings[0];
        assert_eq!(
            (finding.rule, finding.severity),
            (Rule::Secret, Severity::Error),
            "{finding}"
        );
        assert_eq!(finding.path.to_string(), path);
        assert!(finding.detail.contains(advice), "{}", finding.detail);
        let shown = format!("{finding} {finding:?}");
        assert!(
            !shown.contains("secret") || !shown.contains("AAAAsecretBBBB"),
            "value leaked: {shown}"
        );
        assert!(!shown.contains("AAAAsecretBBBB"), "value leaked: {shown}");
    }
}

#[test]
fn token_shaped_values_in_free_text_are_errors_without_the_value() {
    let source = "[[runners]]\nenvironment = [\"DEPLOY_TOKEN=glpat-0123456789abcdef\"]\n";
    let findings = validate_runner_config(source);
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    assert_eq!(findings[0].rule, Rule::Secret);
    assert_eq!(findings[0].path.to_string(), "runners[0].environment");
    assert!(!format!("{:?}", findings[0]).contains("0123456789abcdef"));
}

#[test]
fn exactly_one_runners_section_is_required() {
    let cases = [
        ("concurrent = 4\n", 0),
        ("[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n", 2),
        (
            "runners = [{ name = \"a\" }, { name = \"b\" }, { name = \"c\" }]\n",
            3,
        ),
    ];
    for (source, count) in cases {
        let findings = validate_runner_config(source);
        let counted = only(&findings, Rule::RunnersCount);
        assert_eq!(counted.len(), 1, "{source:?}: {}", describe(&findings));
        assert_eq!(counted[0].severity, Severity::Error);
        if count > 1 {
            assert!(
                counted[0].detail.contains(&format!("not {count}")),
                "{}",
                counted[0].detail
            );
        }
    }
    let second =
        &validate_runner_config("[[runners]]\nname = \"a\"\n\n[[runners]]\nname = \"b\"\n")[0];
    assert_eq!(second.position.map(|p| p.line), Some(4));
    assert!(validate_runner_config("runners = [{ name = \"a\" }]\n").is_empty());
}

#[test]
fn a_runners_table_instead_of_an_array_is_a_type_error() {
    let findings = validate_runner_config("[runners]\nname = \"a\"\n");
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    assert_eq!(findings[0].rule, Rule::WrongKind);
    assert!(
        findings[0].detail.contains("[[runners]]"),
        "{}",
        findings[0].detail
    );
}

#[test]
fn values_of_the_wrong_kind_are_errors_with_their_path() {
    // (source, path, expected, found)
    let cases = [
        (
            "concurrent = \"4\"\n[[runners]]\n",
            "concurrent",
            "an integer",
            "a string",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\nprivileged = \"true\"\n",
            "runners[0].kubernetes.privileged",
            "a boolean",
            "a string",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\nallowed_images = \"docker:*\"\n",
            "runners[0].kubernetes.allowed_images",
            "an array of strings",
            "a string",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\npull_policy = 3\n",
            "runners[0].kubernetes.pull_policy",
            "a string or an array of strings",
            "an integer",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\nnode_selector = [\"a\"]\n",
            "runners[0].kubernetes.node_selector",
            "a table of strings",
            "an array",
        ),
        (
            "[[runners]]\n[runners.feature_flags]\nFF_USE_FASTZIP = \"yes\"\n",
            "runners[0].feature_flags.FF_USE_FASTZIP",
            "a boolean",
            "a string",
        ),
        (
            "[[runners]]\n[runners.kubernetes.volumes]\nempty_dir = { name = \"x\" }\n",
            "runners[0].kubernetes.volumes.empty_dir",
            "an array of tables",
            "a table",
        ),
        (
            "[[runners]]\n[runners.kubernetes]\npoll_timeout = 1.5\n",
            "runners[0].kubernetes.poll_timeout",
            "an integer",
            "a float",
        ),
    ];
    for (source, path, expected, found) in cases {
        let findings = validate_runner_config(source);
        assert_eq!(findings.len(), 1, "{source:?}: {}", describe(&findings));
        let finding = &findings[0];
        assert_eq!(
            (finding.rule, finding.severity),
            (Rule::WrongKind, Severity::Error)
        );
        assert_eq!(finding.path.to_string(), path);
        assert!(
            finding
                .detail
                .contains(&format!("must be {expected}, not {found}")),
            "{}",
            finding.detail
        );
    }
}

#[test]
fn values_out_of_range_or_set_are_reported() {
    // (source, path, rule severity)
    let cases = [
        (
            "concurrent = 0\n[[runners]]\n",
            "concurrent",
            Severity::Error,
        ),
        (
            "[[runners]]\nrequest_concurrency = 0\n",
            "runners[0].request_concurrency",
            Severity::Error,
        ),
        (
            "[[runners]]\nunhealthy_interval = \"10 minutes\"\n",
            "runners[0].unhealthy_interval",
            Severity::Error,
        ),
        (
            "log_level = \"verbose\"\n[[runners]]\n",
            "log_level",
            Severity::Warning,
        ),
        (
            "[[runners]]\n[[runners.kubernetes.volumes.empty_dir]]\nname = \"x\"\nmount_path = \"/x\"\nmedium = \"Disk\"\n",
            "runners[0].kubernetes.volumes.empty_dir[0].medium",
            Severity::Warning,
        ),
    ];
    for (source, path, severity) in cases {
        let findings = validate_runner_config(source);
        assert_eq!(findings.len(), 1, "{source:?}: {}", describe(&findings));
        assert_eq!(
            (findings[0].rule, findings[0].severity),
            (Rule::InvalidValue, severity)
        );
        assert_eq!(findings[0].path.to_string(), path);
    }
    assert!(
        validate_runner_config("concurrent = 1\n[[runners]]\nunhealthy_interval = \"1h30m\"\n")
            .is_empty()
    );
}

#[test]
fn privileged_without_allowed_images_is_a_guard_rail_warning() {
    let cases = [
        ("[[runners]]\n[runners.kubernetes]\nprivileged = true\n", 1),
        (
            "[[runners]]\n[runners.kubernetes]\nprivileged = true\nallowed_images = []\n",
            1,
        ),
        (
            "[[runners]]\n[runners.kubernetes]\nprivileged = true\nallowed_images = [\"docker:*\"]\n",
            0,
        ),
        ("[[runners]]\n[runners.kubernetes]\nprivileged = false\n", 0),
    ];
    for (source, expected) in cases {
        let findings = validate_runner_config(source);
        let rails = only(&findings, Rule::GuardRail);
        assert_eq!(rails.len(), expected, "{source:?}: {}", describe(&findings));
        assert_eq!(
            findings.len(),
            expected,
            "{source:?}: {}",
            describe(&findings)
        );
        if let Some(rail) = rails.first() {
            assert_eq!(rail.severity, Severity::Warning);
            assert_eq!(rail.path.to_string(), "runners[0].kubernetes.privileged");
            assert_eq!(rail.position, Some(Position { line: 3, column: 1 }));
        }
    }
}

#[test]
fn helm_templates_inside_strings_are_tolerated() {
    let source = r#"
[[runners]]
  name = "{{ .Release.Name }}"
  [runners.kubernetes]
    namespace = "{{ .Release.Namespace }}"
    image = "{{ .Values.jobImage | default "alpine:3.20" }}"
"#;
    let findings = validate_runner_config(source);
    assert!(findings.is_empty(), "{}", describe(&findings));
}

#[test]
fn helm_templates_outside_strings_are_reported_where_they_stand() {
    let source = "[[runners]]\n  [runners.kubernetes]\n    poll_timeout = {{ .Values.pollTimeout }}\n{{- if .Values.privileged }}\n    privileged = true\n    allowed_images = [\"docker:*\"]\n{{- end }}\n";
    let findings = validate_runner_config(source);
    let templates = only(&findings, Rule::Template);
    assert_eq!(findings.len(), templates.len(), "{}", describe(&findings));
    let located: Vec<(String, Option<Position>, Severity)> = templates
        .iter()
        .map(|f| (f.path.to_string(), f.position, f.severity))
        .collect();
    assert_eq!(
        located,
        [
            (
                "runners[0].kubernetes.poll_timeout".to_owned(),
                Some(Position {
                    line: 3,
                    column: 20
                }),
                Severity::Warning
            ),
            (
                String::new(),
                Some(Position { line: 4, column: 1 }),
                Severity::Warning
            ),
            (
                String::new(),
                Some(Position { line: 7, column: 1 }),
                Severity::Warning
            ),
        ]
    );
}

#[test]
fn a_quoted_template_where_a_boolean_belongs_is_still_a_type_error() {
    let findings = validate_runner_config(
        "[[runners]]\n[runners.kubernetes]\nprivileged = \"{{ .Values.privileged }}\"\n",
    );
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    assert_eq!(findings[0].rule, Rule::WrongKind);
    assert!(
        findings[0].detail.contains("inside quotes"),
        "{}",
        findings[0].detail
    );
}

#[test]
fn unclosed_templates_are_errors_at_their_opening_braces() {
    let findings = validate_runner_config("[[runners]]\nname = \"{{ .Release.Name\"\n");
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    assert_eq!(
        (findings[0].rule, findings[0].severity),
        (Rule::Template, Severity::Error)
    );
    assert_eq!(findings[0].position, Some(Position { line: 2, column: 9 }));
}

#[test]
fn opaque_kubernetes_objects_are_accepted_as_tables() {
    let source = "[[runners]]\n[runners.kubernetes.affinity.node_affinity.required_during_scheduling_ignored_during_execution]\n[runners.kubernetes.pod_security_context]\nrun_as_non_root = true\n[[runners.kubernetes.services]]\nname = \"postgres:16\"\nalias = \"db\"\ncommand = [\"postgres\"]\n";
    let findings = validate_runner_config(source);
    assert!(findings.is_empty(), "{}", describe(&findings));
}

mod properties {
    use gitlab_runner_chart::{Rule, validate_runner_config};
    use proptest::prelude::*;

    fn toml_like() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "[[runners]]",
            "[runners.kubernetes]",
            "\n",
            " ",
            "=",
            "\"",
            "'",
            "'''",
            "\"\"\"",
            "{{",
            "}}",
            "#",
            "[",
            "]",
            ",",
            "{",
            "}",
            "name",
            "privileged",
            "true",
            "1",
            "é",
            "\\",
            "token",
            ".",
        ]);
        prop::collection::vec(pieces, 0..60).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_gets_findings_with_positions_inside_it(source in toml_like()) {
            let findings = validate_runner_config(&source);
            let lines = source.split('\n').count();
            for finding in &findings {
                if let Some(position) = finding.position {
                    prop_assert!(position.line >= 1 && position.line <= lines, "{finding} in {source:?}");
                    prop_assert!(position.column >= 1);
                }
            }
        }

        #[test]
        fn secret_values_never_appear_in_findings(
            value in "[A-Za-z0-9_-]{16,32}",
            place in prop::sample::select(vec![
                ("[[runners]]", "token"),
                ("[[runners]]\n[runners.cache.s3]", "SecretKey"),
                ("[[runners]]\n[runners.cache.azure]", "AccountKey"),
                ("[[runners]]\n[runners.kubernetes]", "bearer_token"),
                ("[[runners]]\n[runners.kubernetes]", "api_password"),
            ]),
            broken in any::<bool>(),
        ) {
            let (header, key) = place;
            // Also with the closing quote missing, so the syntax-error path is covered.
            let quote = if broken { "" } else { "\"" };
            let source = format!("{header}\n{key} = \"{value}{quote}\n");
            let findings = validate_runner_config(&source);
            prop_assert!(!findings.is_empty());
            if !broken {
                prop_assert!(findings.iter().any(|f| f.rule == Rule::Secret), "{findings:?}");
            }
            let shown = format!("{findings:?} {}", findings.iter().map(ToString::to_string).collect::<String>());
            prop_assert!(!shown.contains(&value), "value leaked: {shown}");
        }
    }
}
