//! The typed renderer: exact output for the seed's configuration, input errors, and round trips
//! through the validator and a TOML parser.

use std::collections::BTreeMap;

use gitlab_runner_chart::{
    AzureCache, CacheBackend, CacheConfig, ConfigMapVolume, ContainerResources, EmptyDirMedium,
    EmptyDirVolume, GcsCache, HostPathVolume, KubernetesConfig, PullPolicy, PvcVolume, Rule,
    RunnerConfigInput, S3AuthenticationType, S3Cache, SecretVolume, Severity, Volumes, render,
    render_runner_config, validate_runner_config,
};
use proptest::prelude::*;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn map<V: Clone>(entries: &[(&str, V)]) -> BTreeMap<String, V> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn seed_dind() -> RunnerConfigInput {
    RunnerConfigInput {
        name: Some("seed-dind".to_owned()),
        kubernetes: KubernetesConfig {
            image: Some("docker:27".to_owned()),
            namespace: Some("ci-jobs".to_owned()),
            privileged: Some(true),
            allowed_images: strings(&["docker:*", "alpine:*"]),
            allowed_services: strings(&["docker:*-dind"]),
            volumes: Volumes {
                empty_dir: vec![EmptyDirVolume {
                    name: "docker-certs".to_owned(),
                    mount_path: "/certs/client".to_owned(),
                    medium: EmptyDirMedium::Memory,
                    ..EmptyDirVolume::default()
                }],
                ..Volumes::default()
            },
            ..KubernetesConfig::default()
        },
        ..RunnerConfigInput::default()
    }
}

#[test]
fn the_seed_docker_in_docker_configuration_renders_exactly() {
    let expected = r#"[[runners]]
  name = "seed-dind"
  executor = "kubernetes"

  [runners.kubernetes]
    image = "docker:27"
    namespace = "ci-jobs"
    privileged = true
    allowed_images = ["docker:*", "alpine:*"]
    allowed_services = ["docker:*-dind"]

    [[runners.kubernetes.volumes.empty_dir]]
      name = "docker-certs"
      mount_path = "/certs/client"
      medium = "Memory"
"#;
    let rendered = render(&seed_dind()).expect("renders");
    assert_eq!(rendered.toml, expected);
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
    assert_eq!(render_runner_config(&seed_dind()).as_deref(), Ok(expected));
}

fn everything() -> RunnerConfigInput {
    let resources = |prefix: &str| ContainerResources {
        cpu_request: Some(format!("{prefix}100m")),
        cpu_limit: Some("1".to_owned()),
        memory_request: Some("128Mi".to_owned()),
        memory_limit: Some("1Gi".to_owned()),
        ephemeral_storage_request: None,
        ephemeral_storage_limit: Some("10Gi".to_owned()),
    };
    RunnerConfigInput {
        name: Some("all".to_owned()),
        url: Some("https://gitlab.example.com/".to_owned()),
        limit: Some(4),
        request_concurrency: Some(2),
        environment: map(&[("B", "2".to_owned()), ("A", "x=y".to_owned())]),
        pre_build_script: Some("echo \"start\"\nid".to_owned()),
        feature_flags: map(&[("FF_USE_FASTZIP", true), ("FF_NETWORK_PER_BUILD", false)]),
        kubernetes: KubernetesConfig {
            image: Some("alpine:3.20".to_owned()),
            pull_policy: vec![PullPolicy::IfNotPresent, PullPolicy::Always],
            allowed_pull_policies: vec![PullPolicy::IfNotPresent, PullPolicy::Always],
            service_account: Some("jobs".to_owned()),
            image_pull_secrets: strings(&["regcred"]),
            build_resources: resources(""),
            service_resources: resources(""),
            helper_resources: resources(""),
            poll_timeout: Some(600),
            node_selector: map(&[("kubernetes.io/os", "linux".to_owned())]),
            node_tolerations: map(&[("dedicated=ci", "NoSchedule".to_owned())]),
            pod_labels: map(&[("team", "platform".to_owned())]),
            pod_annotations: map(&[("example.com/owner", "ci".to_owned())]),
            volumes: Volumes {
                empty_dir: vec![EmptyDirVolume {
                    name: "scratch".to_owned(),
                    mount_path: "/scratch".to_owned(),
                    size_limit: Some("1Gi".to_owned()),
                    ..EmptyDirVolume::default()
                }],
                host_path: vec![HostPathVolume {
                    name: "docker-sock".to_owned(),
                    mount_path: "/var/run/docker.sock".to_owned(),
                    host_path: Some("/var/run/docker.sock".to_owned()),
                    read_only: Some(true),
                    ..HostPathVolume::default()
                }],
                pvc: vec![PvcVolume {
                    name: "cache-pvc".to_owned(),
                    mount_path: "/cache".to_owned(),
                    ..PvcVolume::default()
                }],
                config_map: vec![ConfigMapVolume {
                    name: "ca-bundle".to_owned(),
                    mount_path: "/etc/ssl/custom".to_owned(),
                    read_only: Some(true),
                    items: map(&[("ca.crt", "ca.crt".to_owned())]),
                    ..ConfigMapVolume::default()
                }],
                secret: vec![SecretVolume {
                    name: "netrc".to_owned(),
                    mount_path: "/root/.netrc".to_owned(),
                    sub_path: Some(".netrc".to_owned()),
                    read_only: Some(true),
                    ..SecretVolume::default()
                }],
            },
            ..KubernetesConfig::default()
        },
        cache: Some(CacheConfig {
            backend: CacheBackend::S3(S3Cache {
                server_address: Some("s3.amazonaws.com".to_owned()),
                bucket_name: "runner-cache".to_owned(),
                bucket_location: Some("eu-west-1".to_owned()),
                insecure: Some(false),
                authentication_type: Some(S3AuthenticationType::Iam),
            }),
            path: Some("ci".to_owned()),
            shared: Some(true),
            max_uploaded_archive_size: Some(1 << 30),
        }),
        ..RunnerConfigInput::default()
    }
}

#[test]
fn every_typed_setting_renders_to_toml_the_validator_accepts_without_findings() {
    let rendered = render(&everything()).expect("renders");
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
    assert!(validate_runner_config(&rendered.toml).is_empty());
    let document: toml_edit::DocumentMut = rendered.toml.parse().expect("parses");
    let runner = &document["runners"][0];
    assert_eq!(runner["environment"].as_array().map(|a| a.len()), Some(2));
    assert_eq!(
        runner["environment"][0].as_str(),
        Some("A=x=y"),
        "environment in name order"
    );
    assert_eq!(
        runner["pre_build_script"].as_str(),
        Some("echo \"start\"\nid")
    );
    assert_eq!(
        runner["feature_flags"]["FF_NETWORK_PER_BUILD"].as_bool(),
        Some(false)
    );
    let kubernetes = &runner["kubernetes"];
    assert_eq!(kubernetes["pull_policy"][1].as_str(), Some("always"));
    assert_eq!(kubernetes["helper_memory_limit"].as_str(), Some("1Gi"));
    assert_eq!(
        kubernetes["service_ephemeral_storage_limit"].as_str(),
        Some("10Gi")
    );
    assert!(kubernetes.get("ephemeral_storage_request").is_none());
    assert_eq!(
        kubernetes["node_tolerations"]["dedicated=ci"].as_str(),
        Some("NoSchedule")
    );
    assert_eq!(
        kubernetes["volumes"]["host_path"][0]["read_only"].as_bool(),
        Some(true)
    );
    assert_eq!(
        kubernetes["volumes"]["config_map"][0]["items"]["ca.crt"].as_str(),
        Some("ca.crt")
    );
    assert_eq!(
        kubernetes["volumes"]["secret"][0]["sub_path"].as_str(),
        Some(".netrc")
    );
    let cache = &runner["cache"];
    assert_eq!(cache["Type"].as_str(), Some("s3"));
    assert_eq!(cache["MaxUploadedArchiveSize"].as_integer(), Some(1 << 30));
    assert_eq!(cache["s3"]["AuthenticationType"].as_str(), Some("iam"));
    assert!(!rendered.toml.contains("AccessKey") && !rendered.toml.contains("SecretKey"));
}

#[test]
fn a_kubernetes_section_holding_only_tables_has_no_empty_header() {
    let input = RunnerConfigInput {
        kubernetes: KubernetesConfig {
            node_selector: map(&[("kubernetes.io/os", "linux".to_owned())]),
            ..KubernetesConfig::default()
        },
        ..RunnerConfigInput::default()
    };
    let expected = "[[runners]]\n  executor = \"kubernetes\"\n\n  [runners.kubernetes.node_selector]\n    \"kubernetes.io/os\" = \"linux\"\n";
    assert_eq!(render_runner_config(&input).as_deref(), Ok(expected));
}

#[test]
fn a_single_pull_policy_renders_as_a_string() {
    let mut input = seed_dind();
    input.kubernetes.pull_policy = vec![PullPolicy::IfNotPresent];
    let toml = render_runner_config(&input).expect("renders");
    assert!(
        toml.contains("    pull_policy = \"if-not-present\"\n"),
        "{toml}"
    );
}

#[test]
fn gcs_and_azure_caches_use_their_camel_case_keys() {
    let gcs = CacheConfig {
        backend: CacheBackend::Gcs(GcsCache {
            bucket_name: "b".to_owned(),
        }),
        path: None,
        shared: None,
        max_uploaded_archive_size: None,
    };
    let azure = CacheConfig {
        backend: CacheBackend::Azure(AzureCache {
            container_name: "c".to_owned(),
            storage_domain: Some("blob.core.windows.net".to_owned()),
        }),
        ..gcs.clone()
    };
    let cases = [
        (
            gcs,
            "  [runners.cache]\n    Type = \"gcs\"\n\n    [runners.cache.gcs]\n      BucketName = \"b\"\n",
        ),
        (
            azure,
            "  [runners.cache]\n    Type = \"azure\"\n\n    [runners.cache.azure]\n      ContainerName = \"c\"\n      StorageDomain = \"blob.core.windows.net\"\n",
        ),
    ];
    for (cache, expected_tail) in cases {
        let input = RunnerConfigInput {
            cache: Some(cache),
            ..RunnerConfigInput::default()
        };
        let toml = render_runner_config(&input).expect("renders");
        assert!(toml.ends_with(expected_tail), "{toml}");
    }
}

#[test]
fn privileged_without_allowed_images_renders_with_a_warning() {
    let mut input = seed_dind();
    input.kubernetes.allowed_images.clear();
    let rendered = render(&input).expect("renders");
    assert_eq!(rendered.warnings.len(), 1, "{:?}", rendered.warnings);
    assert_eq!(rendered.warnings[0].rule, Rule::GuardRail);
}

#[test]
fn invalid_typed_settings_are_errors_with_toml_paths() {
    type Edit = fn(&mut RunnerConfigInput);
    let cases: [(Edit, &str); 9] = [
        (|i| i.name = Some(" ".to_owned()), "runners[0].name"),
        (
            |i| i.request_concurrency = Some(0),
            "runners[0].request_concurrency",
        ),
        (
            |i| i.environment = map(&[("A=B", "c".to_owned())]),
            "runners[0].environment",
        ),
        (
            |i| i.kubernetes.build_resources.cpu_limit = Some("lots".to_owned()),
            "runners[0].kubernetes.cpu_limit",
        ),
        (
            |i| i.kubernetes.helper_resources.memory_request = Some("1GB".to_owned()),
            "runners[0].kubernetes.helper_memory_request",
        ),
        (
            |i| i.kubernetes.volumes.empty_dir[0].mount_path = "certs".to_owned(),
            "runners[0].kubernetes.volumes.empty_dir[0].mount_path",
        ),
        (
            |i| {
                i.kubernetes.volumes.pvc.push(PvcVolume {
                    name: "docker-certs".to_owned(),
                    mount_path: "/data".to_owned(),
                    ..PvcVolume::default()
                })
            },
            "runners[0].kubernetes.volumes.pvc[0].name",
        ),
        (
            |i| {
                i.cache = Some(CacheConfig {
                    backend: CacheBackend::S3(S3Cache::default()),
                    path: None,
                    shared: None,
                    max_uploaded_archive_size: None,
                })
            },
            "runners[0].cache.s3.BucketName",
        ),
        (
            |i| i.environment = map(&[("GITLAB_TOKEN", "glrt-abcdefghijklmnop".to_owned())]),
            "runners[0].environment",
        ),
    ];
    for (edit, path) in cases {
        let mut input = seed_dind();
        edit(&mut input);
        let errors = render(&input).expect_err(path);
        assert_eq!(errors.len(), 1, "{path}: {errors:?}");
        assert_eq!(errors[0].severity, Severity::Error);
        assert_eq!(errors[0].path.to_string(), path);
        assert!(
            !format!("{errors:?}").contains("abcdefghijklmnop"),
            "token leaked"
        );
    }
}

/// What the TOML holds for a value before Helm's `tpl` renders it: each `{{` escaped as a template action.
fn before_tpl(value: &str) -> String {
    value.replace("{{", "{{`{{`}}")
}

#[test]
fn template_braces_in_values_are_escaped_for_helm_tpl() {
    let mut input = seed_dind();
    input.environment = map(&[("GREETING", "{{ .Values.x }}".to_owned())]);
    let toml = render_runner_config(&input).expect("renders");
    assert!(
        toml.contains("environment = [\"GREETING={{`{{`}} .Values.x }}\"]"),
        "{toml}"
    );
}

fn text() -> impl Strategy<Value = String> {
    // Arbitrary printable text including quotes, backslashes, `#`, `=`, newlines and non-ASCII.
    // Braces are weighted up so template-looking text is common.
    proptest::string::string_regex("([ -~é\u{1F600}\n\t]|\\{\\{|\\}\\}){0,24}").expect("regex")
}

fn name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z][a-z0-9-]{0,20}").expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn rendered_text_parses_back_to_the_same_values(
        runner_name in name(),
        image in text(),
        environment in proptest::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", text(), 0..4),
        labels in proptest::collection::btree_map("[a-z./-]{1,12}", text(), 0..4),
        flags in proptest::collection::btree_map("FF_[A-Z_]{1,10}", any::<bool>(), 0..3),
        mounts in proptest::collection::btree_set("/[a-z]{1,8}", 0..4),
    ) {
        let volumes = Volumes {
            empty_dir: mounts
                .iter()
                .enumerate()
                .map(|(index, mount)| EmptyDirVolume {
                    name: format!("v{index}"),
                    mount_path: mount.clone(),
                    ..EmptyDirVolume::default()
                })
                .collect(),
            ..Volumes::default()
        };
        let input = RunnerConfigInput {
            name: Some(runner_name.clone()),
            environment: environment.clone(),
            feature_flags: flags.clone(),
            kubernetes: KubernetesConfig {
                image: Some(image.clone()),
                pod_labels: labels.clone(),
                volumes,
                ..KubernetesConfig::default()
            },
            ..RunnerConfigInput::default()
        };
        let rendered = render(&input);
        prop_assert!(rendered.is_ok(), "{:?}", rendered);
        let rendered = rendered.unwrap_or_else(|_| unreachable!());
        prop_assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
        let document: toml_edit::DocumentMut = rendered.toml.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let runner = &document["runners"][0];
        prop_assert_eq!(runner["name"].as_str(), Some(runner_name.as_str()));
        prop_assert_eq!(runner["kubernetes"]["image"].as_str().map(str::to_owned), Some(before_tpl(&image)));
        let parsed_env: Vec<String> = runner.get("environment").and_then(|e| e.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let expected_env: Vec<String> = environment.iter().map(|(k, v)| before_tpl(&format!("{k}={v}"))).collect();
        prop_assert_eq!(parsed_env, expected_env);
        for (key, value) in &labels {
            prop_assert_eq!(runner["kubernetes"]["pod_labels"][key.as_str()].as_str().map(str::to_owned), Some(before_tpl(value)));
        }
        for (key, value) in &flags {
            prop_assert_eq!(runner["feature_flags"][key.as_str()].as_bool(), Some(*value));
        }
        let volume_count = runner["kubernetes"].get("volumes")
            .and_then(|v| v.get("empty_dir"))
            .and_then(|v| v.as_array_of_tables())
            .map_or(0, |a| a.len());
        prop_assert_eq!(volume_count, mounts.len());
        // Rendering is deterministic.
        prop_assert_eq!(render_runner_config(&input).ok(), Some(rendered.toml));
    }
}

#[test]
fn cache_backends_are_built_from_a_type_and_one_matching_block() {
    let s3 = || {
        Some(S3Cache {
            bucket_name: "b".to_owned(),
            ..S3Cache::default()
        })
    };
    let gcs = || {
        Some(GcsCache {
            bucket_name: "g".to_owned(),
        })
    };
    assert!(matches!(
        CacheBackend::from_blocks(Some("s3"), s3(), None, None),
        Ok(CacheBackend::S3(_))
    ));
    assert!(matches!(
        CacheBackend::from_blocks(None, None, gcs(), None),
        Ok(CacheBackend::Gcs(_))
    ));
    // (type, s3, gcs, expected text in the error)
    let refused = [
        (Some("s3"), false, true, "keep only the s3 block"),
        (Some("s3"), false, false, "add its s3 settings block"),
        (Some("minio"), true, false, "must be s3, gcs or azure"),
        (None, true, true, "settings are given for s3 and gcs"),
        (None, false, false, "one settings block"),
    ];
    for (type_name, with_s3, with_gcs, expected) in refused {
        let error = CacheBackend::from_blocks(
            type_name,
            with_s3.then(s3).flatten(),
            with_gcs.then(gcs).flatten(),
            None,
        )
        .expect_err(expected);
        assert_eq!(error.path.to_string(), "runners[0].cache");
        assert!(error.detail.contains(expected), "{}", error.detail);
    }
}

#[test]
fn spellings_parse_back_to_their_enums() {
    for policy in [
        PullPolicy::Always,
        PullPolicy::IfNotPresent,
        PullPolicy::Never,
    ] {
        assert_eq!(PullPolicy::parse(policy.as_str()), Some(policy));
    }
    assert_eq!(PullPolicy::parse("IfNotPresent"), None);
    assert_eq!(
        EmptyDirMedium::parse("Memory"),
        Some(EmptyDirMedium::Memory)
    );
    assert_eq!(EmptyDirMedium::parse(""), Some(EmptyDirMedium::Disk));
    assert_eq!(EmptyDirMedium::parse("memory"), None);
    assert_eq!(
        S3AuthenticationType::parse("iam"),
        Some(S3AuthenticationType::Iam)
    );
    assert_eq!(S3AuthenticationType::parse("IAM"), None);
}
