//! Typed chart values: the exact tree Helm receives, the refusals, and the escape hatch on top.

use gitlab_runner_chart::values::{
    Capabilities, ContainerSecurityContext, PodSecurityContext, PolicyRule, ResourceRequirements,
    Toleration,
};
use gitlab_runner_chart::{
    ChartValues, EnvVar, ImageRef, LogFormat, LogLevel, MergeError, Rbac, Rule, RunnersValues,
    ServiceAccount, TOKEN_DIGEST_ANNOTATION, TokenDigest, merge_user_values, scan_for_credentials,
};
use serde_json::json;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn executor_rules() -> Vec<PolicyRule> {
    vec![PolicyRule {
        api_groups: strings(&[""]),
        resources: strings(&[
            "pods",
            "pods/exec",
            "pods/attach",
            "pods/log",
            "secrets",
            "configmaps",
        ]),
        verbs: strings(&[
            "get", "list", "watch", "create", "patch", "update", "delete",
        ]),
        resource_names: Vec::new(),
    }]
}

fn seed() -> ChartValues {
    ChartValues {
        gitlab_url: "https://gitlab.example.com/".to_owned(),
        concurrent: Some(4),
        check_interval: Some(3),
        log_level: Some(LogLevel::Info),
        termination_grace_period_seconds: Some(3600),
        image: ImageRef {
            registry: Some("registry.gitlab.com".to_owned()),
            image: Some("gitlab-org/gitlab-runner".to_owned()),
            tag: Some("ubi-fips-v18.9.0".to_owned()),
        },
        use_tini: Some(true),
        image_pull_secrets: strings(&["regcred"]),
        rbac: Rbac {
            create: true,
            rules: executor_rules(),
            ..Rbac::default()
        },
        service_account: ServiceAccount {
            create: Some(true),
            name: Some("runner".to_owned()),
            annotations: [(
                "iam.gke.io/gcp-service-account".to_owned(),
                "ci@p.iam".to_owned(),
            )]
            .into(),
        },
        security_context: Some(ContainerSecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: Vec::new(),
                drop: strings(&["ALL"]),
            }),
            ..ContainerSecurityContext::default()
        }),
        pod_security_context: Some(PodSecurityContext {
            run_as_user: Some(999),
            fs_group: Some(999),
            ..PodSecurityContext::default()
        }),
        resources: ResourceRequirements {
            requests: [("cpu".to_owned(), "100m".to_owned())].into(),
            limits: [("memory".to_owned(), "256Mi".to_owned())].into(),
        },
        tolerations: vec![Toleration {
            key: Some("dedicated".to_owned()),
            operator: Some("Equal".to_owned()),
            value: Some("ci".to_owned()),
            effect: Some("NoSchedule".to_owned()),
            toleration_seconds: None,
        }],
        env_vars: vec![EnvVar {
            name: "RUNNER_DEBUG".to_owned(),
            value: "false".to_owned(),
        }],
        certs_secret_name: Some("gitlab-ca".to_owned()),
        runners: RunnersValues {
            config: "[[runners]]\n  executor = \"kubernetes\"\n".to_owned(),
            name: Some("seed".to_owned()),
            secret: "seed-runner-token".to_owned(),
            cache_secret_name: Some("seed-cache".to_owned()),
            job_namespace: Some("ci-jobs".to_owned()),
        },
        unregister_runners: Some(false),
        token_digest: Some(TokenDigest::of_token("glrt-seed-token-000")),
        ..ChartValues::default()
    }
}

#[test]
fn the_seed_values_render_to_the_chart_interface() {
    let digest = TokenDigest::of_token("glrt-seed-token-000");
    let expected = json!({
        "gitlabUrl": "https://gitlab.example.com/",
        "concurrent": 4,
        "checkInterval": 3,
        "logLevel": "info",
        "terminationGracePeriodSeconds": 3600,
        "replicas": 1,
        "image": { "registry": "registry.gitlab.com", "image": "gitlab-org/gitlab-runner", "tag": "ubi-fips-v18.9.0" },
        "useTini": true,
        "imagePullSecrets": [{ "name": "regcred" }],
        "rbac": {
            "create": true,
            "clusterWideAccess": false,
            "rules": [{
                "apiGroups": [""],
                "resources": ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"],
                "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"],
            }],
        },
        "serviceAccount": {
            "create": true,
            "name": "runner",
            "annotations": { "iam.gke.io/gcp-service-account": "ci@p.iam" },
            "imagePullSecrets": ["regcred"],
        },
        "securityContext": { "runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } },
        "podSecurityContext": { "runAsUser": 999, "fsGroup": 999 },
        "resources": { "requests": { "cpu": "100m" }, "limits": { "memory": "256Mi" } },
        "tolerations": [{ "key": "dedicated", "operator": "Equal", "value": "ci", "effect": "NoSchedule" }],
        "podAnnotations": { TOKEN_DIGEST_ANNOTATION: digest.as_str() },
        "envVars": [{ "name": "RUNNER_DEBUG", "value": "false" }],
        "certsSecretName": "gitlab-ca",
        "runners": {
            "config": "[[runners]]\n  executor = \"kubernetes\"\n",
            "name": "seed",
            "secret": "seed-runner-token",
            "cache": { "secretName": "seed-cache" },
            "jobNamespace": "ci-jobs",
        },
        "unregisterRunners": false,
    });
    assert_eq!(seed().to_values(), Ok(expected));
}

#[test]
fn minimal_values_leave_chart_defaults_alone() {
    let values = ChartValues {
        gitlab_url: "https://gitlab.example.com".to_owned(),
        runners: RunnersValues {
            secret: "tok".to_owned(),
            config: "[[runners]]\n".to_owned(),
            ..RunnersValues::default()
        },
        ..ChartValues::default()
    };
    assert_eq!(
        values.to_values(),
        // Except `replicas`, pinned to 1 so that a `kubectl scale` is a changed value (issue 12).
        Ok(json!({
            "gitlabUrl": "https://gitlab.example.com",
            "replicas": 1,
            "runners": { "config": "[[runners]]\n", "secret": "tok" },
        }))
    );
}

#[test]
fn rbac_without_rules_is_refused_unless_the_chart_default_is_chosen_explicitly() {
    let mut values = seed();
    values.rbac.rules.clear();
    let errors = values.to_values().expect_err("empty rules");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path.to_string(), "rbac.rules");
    assert!(
        errors[0]
            .detail
            .contains("every verb (*) on every resource (*) of the core API group"),
        "{}",
        errors[0].detail
    );
    assert!(errors[0].detail.contains("allow_chart_default_rules"));

    values.rbac.cluster_wide_access = true;
    let errors = values.to_values().expect_err("empty rules, cluster-wide");
    assert!(
        errors[0].detail.contains("ClusterRole"),
        "{}",
        errors[0].detail
    );

    values.rbac.allow_chart_default_rules = true;
    let rendered = values.to_values().expect("opted in");
    assert_eq!(
        rendered["rbac"],
        json!({ "create": true, "clusterWideAccess": true, "rules": [] })
    );
}

#[test]
fn invalid_settings_are_refused_with_their_chart_paths() {
    type Edit = fn(&mut ChartValues);
    let cases: [(Edit, &str); 8] = [
        (
            |v| v.gitlab_url = "gitlab.example.com".to_owned(),
            "gitlabUrl",
        ),
        (|v| v.concurrent = Some(0), "concurrent"),
        (|v| v.runners.secret = String::new(), "runners.secret"),
        (|v| v.runners.name = Some(String::new()), "runners.name"),
        (
            |v| v.image_pull_secrets.push(" ".to_owned()),
            "imagePullSecrets",
        ),
        (
            |v| v.image_pull_policy = Some("sometimes".to_owned()),
            "imagePullPolicy",
        ),
        (|v| v.rbac.rules[0].verbs.clear(), "rbac.rules[0]"),
        (
            |v| {
                v.pod_annotations
                    .insert(TOKEN_DIGEST_ANNOTATION.to_owned(), "x".to_owned());
            },
            "podAnnotations",
        ),
    ];
    for (edit, path) in cases {
        let mut values = seed();
        edit(&mut values);
        let errors = values.to_values().expect_err(path);
        assert_eq!(errors.len(), 1, "{path}: {errors:?}");
        assert_eq!(
            (errors[0].rule, errors[0].path.to_string().as_str()),
            (Rule::InvalidInput, path)
        );
    }
}

#[test]
fn token_rotation_changes_the_pod_annotation() {
    let mut values = seed();
    let before =
        values.to_values().expect("renders")["podAnnotations"][TOKEN_DIGEST_ANNOTATION].clone();
    values.token_digest = Some(TokenDigest::of_token("glrt-rotated-token-111"));
    let after =
        values.to_values().expect("renders")["podAnnotations"][TOKEN_DIGEST_ANNOTATION].clone();
    assert_ne!(before, after);
    assert!(after.as_str().is_some_and(|d| d.starts_with("sha256:")));
}

#[test]
fn user_values_merge_last_and_conflicts_with_typed_values_are_errors() {
    let typed = seed().to_values().expect("renders");
    let merged = merge_user_values(
        &typed,
        "metrics:\n  enabled: true\nserviceAccount:\n  annotations:\n    extra: x\n",
    )
    .expect("no conflict");
    assert_eq!(merged["metrics"], json!({ "enabled": true }));
    assert_eq!(merged["serviceAccount"]["annotations"]["extra"], json!("x"));
    assert_eq!(merged["serviceAccount"]["name"], json!("runner"));

    let error = merge_user_values(
        &typed,
        "concurrent: 10\nrbac:\n  clusterWideAccess: true\nimagePullSecrets: []\n",
    )
    .expect_err("conflicts");
    assert_eq!(
        error,
        MergeError::Conflicts {
            paths: strings(&["concurrent", "imagePullSecrets", "rbac.clusterWideAccess"])
        }
    );
}

#[test]
fn typed_values_from_the_seed_carry_no_credentials() {
    let typed = seed().to_values().expect("renders");
    assert!(
        scan_for_credentials(&typed).is_empty(),
        "{:?}",
        scan_for_credentials(&typed)
    );
    let merged = merge_user_values(&typed, "runnerToken: glrt-abcdefghijklmnop\n").expect("merges");
    let findings = scan_for_credentials(&merged);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].path.to_string(), "runnerToken");
}

#[test]
fn log_settings_parse_from_the_runner_spelling() {
    assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warn));
    assert_eq!(LogLevel::parse("warning"), None);
    assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
    assert_eq!(LogFormat::parse("JSON"), None);
}
