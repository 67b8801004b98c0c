//! Exact-match tests of the argv builders.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::args::*;
use crate::version::HelmGeneration::{Helm3, Helm4};

const KUBECONFIG: &str = "/tmp/private/kubeconfig";

fn repo_chart() -> ChartSource {
    ChartSource::Repository {
        url: "https://charts.gitlab.io".into(),
        chart: "gitlab-runner".into(),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn files(values: &[PathBuf]) -> UpgradeFiles<'_> {
    UpgradeFiles {
        kubeconfig: Path::new(KUBECONFIG),
        values,
        repository_ca: None,
    }
}

fn only(invocations: Vec<HelmInvocation>) -> HelmInvocation {
    assert_eq!(invocations.len(), 1, "{invocations:?}");
    invocations.into_iter().next().unwrap()
}

#[test]
fn minimal_upgrade_install_from_a_repository() {
    let request = UpgradeInstall::new("runner", "ci", repo_chart());
    let invocation = only(upgrade_install(Helm4, &request, files(&[])).unwrap());
    assert_eq!(
        invocation.args,
        words(
            "upgrade --install runner gitlab-runner --repo https://charts.gitlab.io --namespace ci \
             --reset-values --kubeconfig /tmp/private/kubeconfig"
        )
    );
    assert_eq!(invocation.stdin_secret, None);
}

fn everything_on() -> UpgradeInstall {
    UpgradeInstall {
        version: Some("0.86.0".into()),
        create_namespace: true,
        wait: true,
        timeout: Some(Duration::from_secs(300)),
        atomic: true,
        history_max: Some(5),
        disable_openapi_validation: true,
        ..UpgradeInstall::new("runner", "ci", repo_chart())
    }
}

#[test]
fn helm3_spells_wait_and_atomic_the_helm3_way() {
    let values = [PathBuf::from("/tmp/private/values.yaml")];
    let invocation = only(upgrade_install(Helm3, &everything_on(), files(&values)).unwrap());
    assert_eq!(
        invocation.args,
        words(
            "upgrade --install runner gitlab-runner --repo https://charts.gitlab.io --namespace ci \
             --create-namespace --version 0.86.0 --reset-values --values /tmp/private/values.yaml \
             --wait --atomic --timeout 300s --history-max 5 --disable-openapi-validation \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
}

#[test]
fn helm4_uses_the_watcher_and_rollback_on_failure() {
    let values = [PathBuf::from("/tmp/private/values.yaml")];
    let invocation = only(upgrade_install(Helm4, &everything_on(), files(&values)).unwrap());
    assert_eq!(
        invocation.args,
        words(
            "upgrade --install runner gitlab-runner --repo https://charts.gitlab.io --namespace ci \
             --create-namespace --version 0.86.0 --reset-values --values /tmp/private/values.yaml \
             --wait=watcher --rollback-on-failure --timeout 300s --history-max 5 --disable-openapi-validation \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
}

#[test]
fn repository_credentials_go_through_repo_add_on_stdin_never_argv() {
    let request = UpgradeInstall {
        credentials: Some(RepositoryCredentials {
            username: "deploy".into(),
            password: "hunter2".into(),
        }),
        ..UpgradeInstall::new("runner", "ci", repo_chart())
    };
    let invocations = upgrade_install(Helm3, &request, files(&[])).unwrap();
    assert_eq!(invocations.len(), 2);
    assert_eq!(
        invocations[0].args,
        words(
            "repo add gitlabrunner-chart-repo https://charts.gitlab.io --username deploy \
             --password-stdin --force-update"
        )
    );
    assert_eq!(invocations[0].stdin_secret.as_deref(), Some("hunter2"));
    assert_eq!(
        invocations[1].args,
        words(
            "upgrade --install runner gitlabrunner-chart-repo/gitlab-runner --namespace ci --reset-values \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
    for invocation in &invocations {
        assert!(!invocation.args.iter().any(|arg| arg.contains("hunter2")));
        assert!(!format!("{invocation:?}").contains("hunter2"));
    }
}

#[test]
fn oci_chart_with_credentials_logs_in_to_the_registry_host_first() {
    let request = UpgradeInstall {
        version: Some("0.86.0".into()),
        credentials: Some(RepositoryCredentials {
            username: "robot".into(),
            password: "pw".into(),
        }),
        ..UpgradeInstall::new(
            "runner",
            "ci",
            ChartSource::Oci {
                reference: "oci://registry.example:5000/charts/gitlab-runner".into(),
            },
        )
    };
    let invocations = upgrade_install(Helm4, &request, files(&[])).unwrap();
    assert_eq!(
        invocations[0].args,
        words("registry login registry.example:5000 --username robot --password-stdin")
    );
    assert_eq!(invocations[0].stdin_secret.as_deref(), Some("pw"));
    assert_eq!(
        invocations[1].args,
        words(
            "upgrade --install runner oci://registry.example:5000/charts/gitlab-runner --namespace ci \
             --version 0.86.0 --reset-values --kubeconfig /tmp/private/kubeconfig"
        )
    );
}

#[test]
fn oci_chart_without_credentials_is_a_single_invocation() {
    let request = UpgradeInstall::new(
        "runner",
        "ci",
        ChartSource::Oci {
            reference: "oci://r.example/c/gitlab-runner".into(),
        },
    );
    let invocation = only(upgrade_install(Helm3, &request, files(&[])).unwrap());
    assert_eq!(invocation.args[3], "oci://r.example/c/gitlab-runner");
}

#[test]
fn local_chart_path_is_passed_as_is() {
    let request = UpgradeInstall::new(
        "runner",
        "ci",
        ChartSource::Local {
            path: "/charts/gitlab-runner-0.86.0.tgz".into(),
        },
    );
    let invocation = only(upgrade_install(Helm4, &request, files(&[])).unwrap());
    assert_eq!(
        invocation.args,
        words(
            "upgrade --install runner /charts/gitlab-runner-0.86.0.tgz --namespace ci --reset-values \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
}

#[test]
fn bad_requests_are_refused_before_running_anything() {
    let long = "r".repeat(54);
    let cases = [
        UpgradeInstall::new(long.as_str(), "ci", repo_chart()),
        UpgradeInstall::new("", "ci", repo_chart()),
        UpgradeInstall::new("runner", "", repo_chart()),
        UpgradeInstall::new("--kube-token=x", "ci", repo_chart()),
        UpgradeInstall::new(
            "runner",
            "ci",
            ChartSource::Oci {
                reference: "https://not-oci/x".into(),
            },
        ),
        UpgradeInstall::new(
            "runner",
            "ci",
            ChartSource::Oci {
                reference: "oci://hostonly".into(),
            },
        ),
        UpgradeInstall::new(
            "runner",
            "ci",
            ChartSource::Repository {
                url: "https://x".into(),
                chart: " ".into(),
            },
        ),
    ];
    for request in cases {
        assert!(
            upgrade_install(Helm4, &request, files(&[])).is_err(),
            "{request:?}"
        );
    }
    let ok = UpgradeInstall::new("r".repeat(53), "ci", repo_chart());
    assert!(upgrade_install(Helm4, &ok, files(&[])).is_ok());
}

#[test]
fn uninstall_per_generation() {
    let request = Uninstall {
        release: "runner".into(),
        namespace: "ci".into(),
        wait: true,
        timeout: Some(Duration::from_secs(120)),
        cascade: Some(Cascade::Foreground),
    };
    assert_eq!(
        uninstall(Helm3, &request, Path::new(KUBECONFIG))
            .unwrap()
            .args,
        words(
            "uninstall runner --namespace ci --wait --timeout 120s --cascade foreground --kubeconfig /tmp/private/kubeconfig"
        )
    );
    assert_eq!(
        uninstall(Helm4, &request, Path::new(KUBECONFIG))
            .unwrap()
            .args,
        words(
            "uninstall runner --namespace ci --wait=watcher --timeout 120s --cascade foreground \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
    let plain = Uninstall {
        wait: false,
        timeout: None,
        cascade: None,
        ..request
    };
    assert_eq!(
        uninstall(Helm4, &plain, Path::new(KUBECONFIG))
            .unwrap()
            .args,
        words("uninstall runner --namespace ci --kubeconfig /tmp/private/kubeconfig")
    );
}

#[test]
fn rollback_to_a_revision_or_the_previous_one() {
    let request = Rollback {
        release: "runner".into(),
        namespace: "ci".into(),
        revision: Some(3),
        wait: true,
        timeout: Some(Duration::from_millis(1500)),
    };
    assert_eq!(
        rollback(Helm3, &request, Path::new(KUBECONFIG))
            .unwrap()
            .args,
        words(
            "rollback runner 3 --namespace ci --wait --timeout 1s --kubeconfig /tmp/private/kubeconfig"
        )
    );
    let previous = Rollback {
        revision: None,
        wait: false,
        timeout: None,
        ..request
    };
    assert_eq!(
        rollback(Helm4, &previous, Path::new(KUBECONFIG))
            .unwrap()
            .args,
        words("rollback runner --namespace ci --kubeconfig /tmp/private/kubeconfig")
    );
}

#[test]
fn display_joins_the_command_line() {
    let invocation = uninstall(
        Helm4,
        &Uninstall {
            release: "r".into(),
            namespace: "n".into(),
            wait: false,
            timeout: None,
            cascade: None,
        },
        Path::new("/k"),
    )
    .unwrap();
    assert_eq!(
        invocation.display(),
        "helm uninstall r --namespace n --kubeconfig /k"
    );
}

fn oci_chart() -> ChartSource {
    ChartSource::Oci {
        reference: "oci://127.0.0.1:5000/charts/gitlab-runner".into(),
    }
}

#[test]
fn plain_http_oci_registry_with_credentials_reaches_login_and_download() {
    let request = UpgradeInstall {
        credentials: Some(RepositoryCredentials {
            username: "robot".into(),
            password: "pw".into(),
        }),
        transport: ChartTransport {
            plain_http: true,
            ..ChartTransport::default()
        },
        ..UpgradeInstall::new("runner", "ci", oci_chart())
    };
    let invocations = upgrade_install(Helm4, &request, files(&[])).unwrap();
    assert_eq!(
        invocations[0].args,
        words("registry login 127.0.0.1:5000 --username robot --password-stdin --plain-http")
    );
    assert_eq!(
        invocations[1].args,
        words(
            "upgrade --install runner oci://127.0.0.1:5000/charts/gitlab-runner --namespace ci \
             --reset-values --plain-http --kubeconfig /tmp/private/kubeconfig"
        )
    );
}

#[test]
fn repository_ca_goes_to_every_command_that_downloads_or_logs_in() {
    let ca = Path::new("/tmp/private/repository-ca.pem");
    let with_ca = |chart: ChartSource| UpgradeInstall {
        credentials: Some(RepositoryCredentials {
            username: "u".into(),
            password: "p".into(),
        }),
        transport: ChartTransport {
            ca_pem: Some("-----BEGIN CERTIFICATE-----".into()),
            insecure_skip_tls_verify: true,
            plain_http: false,
        },
        ..UpgradeInstall::new("runner", "ci", chart)
    };
    let files = UpgradeFiles {
        repository_ca: Some(ca),
        ..files(&[])
    };
    let oci = upgrade_install(Helm3, &with_ca(oci_chart()), files).unwrap();
    assert_eq!(
        oci[0].args,
        words(
            "registry login 127.0.0.1:5000 --username u --password-stdin \
             --ca-file /tmp/private/repository-ca.pem --insecure"
        )
    );
    assert_eq!(
        oci[1].args,
        words(
            "upgrade --install runner oci://127.0.0.1:5000/charts/gitlab-runner --namespace ci \
             --reset-values --ca-file /tmp/private/repository-ca.pem --insecure-skip-tls-verify \
             --kubeconfig /tmp/private/kubeconfig"
        )
    );
    let repository = upgrade_install(Helm3, &with_ca(repo_chart()), files).unwrap();
    assert_eq!(
        repository[0].args,
        words(
            "repo add gitlabrunner-chart-repo https://charts.gitlab.io --username u --password-stdin \
             --force-update --ca-file /tmp/private/repository-ca.pem --insecure-skip-tls-verify"
        )
    );
    assert!(
        repository[1]
            .args
            .windows(2)
            .any(|pair| pair == ["--ca-file", "/tmp/private/repository-ca.pem"]),
        "{:?}",
        repository[1].args
    );
}

#[test]
fn transport_settings_that_cannot_apply_are_refused() {
    let plain_http_repository = UpgradeInstall {
        transport: ChartTransport {
            plain_http: true,
            ..ChartTransport::default()
        },
        ..UpgradeInstall::new("runner", "ci", repo_chart())
    };
    let ca_on_local_chart = UpgradeInstall {
        transport: ChartTransport {
            ca_pem: Some("pem".into()),
            ..ChartTransport::default()
        },
        ..UpgradeInstall::new(
            "runner",
            "ci",
            ChartSource::Local {
                path: "/charts/gitlab-runner".into(),
            },
        )
    };
    let ca_not_written = UpgradeInstall {
        transport: ChartTransport {
            ca_pem: Some("pem".into()),
            ..ChartTransport::default()
        },
        ..UpgradeInstall::new("runner", "ci", oci_chart())
    };
    for request in [plain_http_repository, ca_on_local_chart, ca_not_written] {
        let error = upgrade_install(Helm4, &request, files(&[])).unwrap_err();
        assert!(
            matches!(error, crate::error::HelmError::InvalidRequest(_)),
            "{error}"
        );
    }
}

#[test]
fn description_and_force_conflicts_are_request_fields() {
    let request = UpgradeInstall {
        description: Some("settings".into()),
        force_conflicts: true,
        ..UpgradeInstall::new("runner", "ci", oci_chart())
    };
    let helm4 = only(upgrade_install(Helm4, &request, files(&[])).unwrap());
    assert_eq!(
        helm4.args,
        words(
            "upgrade --install runner oci://127.0.0.1:5000/charts/gitlab-runner --namespace ci \
             --reset-values --force-conflicts --description settings --kubeconfig /tmp/private/kubeconfig"
        )
    );
    let helm3 = only(upgrade_install(Helm3, &request, files(&[])).unwrap());
    assert!(!helm3.args.contains(&"--force-conflicts".to_owned()));
    assert!(helm3.args.contains(&"--description".to_owned()));
    assert!(
        helm4
            .display()
            .ends_with("--description <8 bytes> --kubeconfig /tmp/private/kubeconfig"),
        "{}",
        helm4.display()
    );
}

#[test]
fn credentials_in_a_repository_url_or_oci_reference_are_refused() {
    for chart in [
        ChartSource::Repository {
            url: "https://user:s3cret@charts.example.com/stable".into(),
            chart: "gitlab-runner".into(),
        },
        ChartSource::Oci {
            reference: "oci://robot:s3cret@registry.example.com/charts/gitlab-runner".into(),
        },
    ] {
        let request = UpgradeInstall::new("runner", "ci", chart);
        let error = upgrade_install(Helm4, &request, files(&[])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("carries credentials"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
    // An `@` after the host (a path or a digest) is not a credential.
    let request = UpgradeInstall::new(
        "runner",
        "ci",
        ChartSource::Oci {
            reference: "oci://registry.example.com/charts/gitlab-runner@sha256:abc".into(),
        },
    );
    assert!(upgrade_install(Helm4, &request, files(&[])).is_ok());
}
