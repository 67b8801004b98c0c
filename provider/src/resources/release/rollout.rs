//! Failing fast while helm waits: `helm upgrade --install --wait` runs beside
//! [`crate::kube::rollout::watch_rollout`]; when the watch finds a cause waiting will not fix,
//! helm is stopped at once through its cancellation (SIGTERM to its process group, so helm records
//! the revision `failed` and the release is kept in state as for any failed install), and the
//! diagnostic quotes the cluster's reason and names the attribute to look at.
//!
//! Terraform's own cancellation still reaches helm only after [`CANCEL_GRACE`]`.helm`, as before.

use std::time::Duration;

use helm_driver::{CancellationToken, HelmError, HelmOutput, RunOptions, UpgradeInstall};
use tfplugin::{AttributePath, Diagnostic};

use super::helm_ops::Helm;
use crate::kube::CANCEL_GRACE;
use crate::kube::rollout::{StuckRollout, watch_rollout};

/// What helm did, and the cause the rollout watch stopped it for (if it did).
pub struct Watched {
    pub outcome: Result<HelmOutput, HelmError>,
    pub stuck: Option<StuckRollout>,
}

/// Runs the upgrade; with `watch` (helm waits for the workloads) the rollout is watched beside
/// it and helm stopped as soon as it is stuck. `cancel`: Terraform's StopProvider.
pub async fn upgrade_watched(
    helm: &Helm,
    request: &UpgradeInstall,
    values_json: &str,
    options: &RunOptions,
    watch: Option<kube::Client>,
    cancel: &CancellationToken,
) -> Watched {
    let Some(client) = watch else {
        return Watched {
            outcome: helm.upgrade_install(request, values_json, options).await,
            stuck: None,
        };
    };
    // helm is stopped by our token at once; Terraform's cancellation is passed on to it after
    // the usual grace.
    let stop = CancellationToken::new();
    let mut own = options.clone();
    own.cancel = stop.clone();
    own.cancel_grace = Duration::ZERO;
    let forward = async {
        cancel.cancelled().await;
        tokio::time::sleep(options.cancel_grace.max(CANCEL_GRACE.helm)).await;
        stop.cancel();
        std::future::pending::<()>().await;
    };
    let upgrade = helm.upgrade_install(request, values_json, &own);
    let watcher = watch_rollout(client, &request.namespace, &request.release);
    tokio::pin!(upgrade, watcher, forward);
    let mut stuck = None;
    let mut watching = true;
    let outcome = loop {
        tokio::select! {
            outcome = &mut upgrade => break outcome,
            found = &mut watcher, if watching => {
                watching = false;
                if let Some(found) = found {
                    tracing::info!(release = %request.release, cause = ?found, "rollout stuck; stopping helm");
                    stuck = Some(found);
                    stop.cancel();
                }
            }
            () = &mut forward => {}
        }
    };
    // helm finished on its own before the stop reached it: its result stands.
    let stuck = stuck.filter(|_| outcome.is_err());
    Watched { outcome, stuck }
}

/// The diagnostic for a rollout that will not finish: the cluster's words, and the attribute.
pub fn stuck_diagnostic(namespace: &str, release: &str, stuck: &StuckRollout) -> Diagnostic {
    let (summary, detail, attribute) = explain(stuck);
    Diagnostic::error(
        summary,
        format!(
            "The rollout of release {namespace}/{release} cannot finish, so it was stopped instead of waiting for `timeout`: {detail} \
             The release is recorded as failed; the next apply repairs it once this is fixed."
        ),
    )
    .at(AttributePath::new(attribute))
}

fn explain(stuck: &StuckRollout) -> (&'static str, String, &'static str) {
    match stuck {
        StuckRollout::CreateRefused {
            replica_set,
            message,
        } => {
            if message.contains("error looking up service account") {
                let account = quoted_after(message, "serviceaccount ").unwrap_or_default();
                (
                    "Manager Pod Refused: ServiceAccount Missing",
                    format!(
                        "ReplicaSet {replica_set} cannot create the manager pod: {message}. Create ServiceAccount \"{account}\" \
                         or set `service_account.create = true` (or `rbac.create = true`), or name an existing account in `service_account.name`."
                    ),
                    "service_account",
                )
            } else if message.contains("exceeded quota") {
                (
                    "Manager Pod Refused: Quota Exceeded",
                    format!(
                        "ReplicaSet {replica_set} cannot create the manager pod: {message}. Raise the namespace's ResourceQuota, \
                         or lower `replicas` or `resources`."
                    ),
                    "resources",
                )
            } else {
                (
                    "Manager Pod Refused By Admission",
                    format!(
                        "ReplicaSet {replica_set} cannot create the manager pod: {message}. An admission policy or webhook \
                         refuses it: check `security_context`, `pod_security_context` and `service_account` against the namespace's policy."
                    ),
                    "security_context",
                )
            }
        }
        StuckRollout::ImagePull {
            pod,
            container,
            image,
            reason,
            message,
        } => (
            "Manager Image Cannot Be Pulled",
            format!(
                "container {container} of pod {pod} cannot pull image \"{image}\" ({reason}: {message}). Check `image` \
                 (registry, repository, tag) and, for a private registry, `image_pull_secrets`."
            ),
            "image",
        ),
        StuckRollout::CrashLoop {
            pod,
            container,
            exit_code,
            message,
            logs,
        } => {
            let exit = exit_code.map_or_else(String::new, |code| format!(" (exit code {code})"));
            let lines = if logs.is_empty() {
                "no log lines could be read.".to_owned()
            } else {
                format!(
                    "its last log lines (GitLab tokens redacted):\n  {}\n",
                    logs.join("\n  ")
                )
            };
            (
                "Manager Crash Loop",
                format!(
                    "container {container} of pod {pod} keeps exiting{exit} ({message}); {lines}Check `runner` \
                     (or `runner_config_toml`), `token_secret_name` and `gitlab_url`."
                ),
                "runner",
            )
        }
        StuckRollout::Unschedulable { pod, message } => (
            "Manager Pod Unschedulable",
            format!(
                "no node can take pod {pod}: {message} Check `node_selector`, `toleration`, `affinity` and `resources` \
                 against the cluster's nodes."
            ),
            "node_selector",
        ),
        StuckRollout::MissingVolume { pod, message } => {
            let attribute = if message.contains("cert") {
                "cert_secret_name"
            } else {
                "token_secret_name"
            };
            (
                "Manager Pod Volume Missing",
                format!(
                    "pod {pod} waits for a volume: {message}. Create that Secret (or ConfigMap) in the release's namespace, \
                     or fix `token_secret_name` / `cert_secret_name`."
                ),
                attribute,
            )
        }
    }
}

/// The first `"…"` after `marker` in `text`.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_service_account_names_it_and_the_attribute() {
        let stuck = StuckRollout::CreateRefused {
            replica_set: "r-gitlab-runner-5d8".into(),
            message: "pods \"r-gitlab-runner-5d8-\" is forbidden: error looking up service account ci/builder: serviceaccount \"builder\" not found".into(),
        };
        let (summary, detail, attribute) = explain(&stuck);
        assert_eq!(summary, "Manager Pod Refused: ServiceAccount Missing");
        assert!(
            detail.contains("Create ServiceAccount \"builder\""),
            "{detail}"
        );
        assert!(
            detail.contains("serviceaccount \"builder\" not found"),
            "{detail}"
        );
        assert_eq!(attribute, "service_account");
    }

    #[test]
    fn each_cause_names_its_attribute() {
        let image = StuckRollout::ImagePull {
            pod: "p".into(),
            container: "c".into(),
            image: "x:1".into(),
            reason: "ImagePullBackOff".into(),
            message: "Back-off pulling image \"x:1\"".into(),
        };
        assert_eq!(explain(&image).2, "image");
        let mount = StuckRollout::MissingVolume {
            pod: "p".into(),
            message: "MountVolume.SetUp failed for volume \"custom-certs\" : secret \"gl-certs\" not found".into(),
        };
        assert_eq!(explain(&mount).2, "cert_secret_name");
        let crash = StuckRollout::CrashLoop {
            pod: "p".into(),
            container: "c".into(),
            exit_code: Some(1),
            message: "back-off".into(),
            logs: vec!["runner=glrt-[REDACTED] is removed".into()],
        };
        let (_, detail, _) = explain(&crash);
        assert!(detail.contains("exit code 1"), "{detail}");
        assert!(
            detail.contains("  runner=glrt-[REDACTED] is removed"),
            "{detail}"
        );
        let quota = StuckRollout::CreateRefused {
            replica_set: "r".into(),
            message: "pods \"r-\" is forbidden: exceeded quota: q".into(),
        };
        assert_eq!(explain(&quota).2, "resources");
    }
}
