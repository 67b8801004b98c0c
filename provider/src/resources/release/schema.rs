//! The `gitlabrunner_release` schema: the HCL of docs/design/002-release-schema.md.

use tfplugin::plan_modifiers::{RequiresReplace, UseStateForUnknown};
use tfplugin::timeouts::{self, Operation};
use tfplugin::validators::{duration, int_between, one_of};
use tfplugin::{Attribute, Block, NestedBlock, Schema, Type};

use super::names::{dns_label, release_name};
use super::validators;
use crate::drain::OnDrainTimeout;

/// Chart repository used when `chart` is a chart name and `repository` is unset.
pub const DEFAULT_REPOSITORY: &str = "https://charts.gitlab.io";
/// Chart name used when `chart` is unset.
pub const DEFAULT_CHART: &str = "gitlab-runner";
/// Default of `timeout` (seconds per helm operation).
pub const DEFAULT_HELM_TIMEOUT_SECONDS: i64 = 300;

fn opt_string(description: &str) -> Attribute {
    Attribute::string().optional().description(description)
}

fn opt_bool(description: &str) -> Attribute {
    Attribute::bool().optional().description(description)
}

fn opt_int(description: &str, min: i64, max: i64) -> Attribute {
    Attribute::int64()
        .optional()
        .validator(int_between(min, max))
        .description(description)
}

fn opt_strings(description: &str) -> Attribute {
    Attribute::list(Type::String)
        .optional()
        .description(description)
}

fn opt_map(description: &str) -> Attribute {
    Attribute::map(Type::String)
        .optional()
        .description(description)
}

fn computed_string(description: &str) -> Attribute {
    Attribute::string().computed().description(description)
}

/// A single optional block (`name { … }`, at most once).
fn single(block: Block) -> NestedBlock {
    NestedBlock::list(block).max_items(1)
}

pub fn schema() -> Schema {
    Schema::new()
        .description(
            "The gitlab-runner Helm chart installed with the helm CLI from typed settings, with the runner \
             config.toml checked at plan time, and drift of values and objects detected without running helm.",
        )
        .attribute(
            "id",
            computed_string("`namespace/name` of the release.").plan_modifier(UseStateForUnknown),
        )
        .attribute(
            "name",
            Attribute::string()
                .required()
                .validator(release_name())
                .plan_modifier(RequiresReplace)
                .description("Release name (at most 53 characters, DNS-1123). Changing it replaces the release."),
        )
        .attribute(
            "namespace",
            Attribute::string()
                .required()
                .validator(dns_label())
                .plan_modifier(RequiresReplace)
                .description("Namespace of the release. Changing it replaces the release."),
        )
        .attribute(
            "create_namespace",
            Attribute::bool()
                .optional()
                .default(false)
                .description("Create the namespace when it does not exist (helm `--create-namespace`)."),
        )
        .attribute(
            "repository",
            opt_string("Chart repository URL; defaults to `https://charts.gitlab.io` when `chart` is a chart name. An `oci://` URL here (the `helm_release` spelling) with a chart name in `chart` means the OCI reference `<repository>/<chart>`. Ignored for `oci://` references and local charts in `chart`."),
        )
        .attribute(
            "chart",
            Attribute::string()
                .optional()
                .default(DEFAULT_CHART)
                .description("Chart name in `repository`, an `oci://` reference, or a local chart directory or `.tgz` (air-gapped installs)."),
        )
        .attribute(
            "chart_version",
            Attribute::string()
                .optional()
                .computed()
                .description("Chart version to install. When unset, the newest is installed and the installed version is recorded and followed; pin it so that a version changed outside Terraform shows as an update."),
        )
        .attribute("repository_username", opt_string("Username for the chart repository or OCI registry."))
        .attribute(
            "repository_password",
            opt_string("Password for the chart repository or OCI registry (given to helm on stdin, never in argv). Stored in state (sensitive); prefer `repository_password_wo`.").sensitive(),
        )
        .attribute(
            "repository_password_wo",
            Attribute::string()
                .optional()
                .sensitive()
                .write_only()
                .description("Write-only password for the chart repository or OCI registry (Terraform/OpenTofu 1.11+): never stored in plan or state, given to helm on stdin whenever helm downloads the chart. Set at most one of `repository_password` and `repository_password_wo`."),
        )
        .attribute(
            "repository_ca_certificate",
            opt_string("PEM bundle of the CA certificates that sign the chart repository's or OCI registry's TLS certificate (a private registry such as GitLab's own). Checked at plan time; given to helm as `--ca-file` from a private temp file."),
        )
        .attribute(
            "repository_insecure_skip_tls_verify",
            Attribute::bool()
                .optional()
                .default(false)
                .description("Do not verify the chart repository's or OCI registry's TLS certificate (helm `--insecure-skip-tls-verify`). Prefer `repository_ca_certificate`."),
        )
        .attribute(
            "repository_plain_http",
            Attribute::bool()
                .optional()
                .default(false)
                .description("Reach an `oci://` registry over plain HTTP (helm `--plain-http`, helm 3.13+), e.g. a registry on a trusted internal network. Only for `oci://` charts; a chart repository's URL scheme already says http or https."),
        )
        .attribute(
            "gitlab_url",
            Attribute::string().required().description("GitLab instance URL (chart value `gitlabUrl`)."),
        )
        .attribute(
            "token_secret_name",
            Attribute::string()
                .required()
                .validator(dns_label_or_subdomain())
                .description("Name of the Secret holding `runner-token` and `runner-registration-token` (chart value `runners.secret`), e.g. `gitlabrunner_token_secret.x.name`."),
        )
        .attribute(
            "token_digest",
            opt_string("Digest of the token Secret (`gitlabrunner_token_secret.x.token_digest`), rendered as a pod annotation so that token rotation rolls the manager.")
                .validator(validators::token_digest()),
        )
        .attribute(
            "secret_digests",
            opt_map("Digests of the Secrets the manager reads when it starts, by name, e.g. `{ certs = gitlabrunner_cert_secret.x.certs_digest, cache = gitlabrunner_cache_secret.x.credentials_digest }`. Each becomes the pod annotation `gitlabrunner.io/<name>-digest`, so a rotated cache key or a renewed certificate rolls the manager in the same apply (through the drain when `drain_on_update` is set). `token` is the same annotation as `token_digest`: set one of them.")
                .validator(validators::secret_digests()),
        )
        .attribute(
            "cert_secret_name",
            opt_string("Secret with `<gitlab-host>.crt` for a private CA (chart value `certsSecretName`)."),
        )
        .attribute(
            "runner_name",
            Attribute::string()
                .optional()
                .computed()
                .description("Runner name (chart value `runners.name`); job pods are labelled with it. Defaults to `<namespace>-<name>` so the label is stable."),
        )
        .attribute("concurrent", opt_int("Most jobs the manager runs at once (`concurrent`).", 1, 10_000))
        .attribute("check_interval", opt_int("Seconds between job requests (`checkInterval`).", 0, 86_400))
        .attribute(
            "log_level",
            opt_string("Manager log level.").validator(one_of(["debug", "info", "warn", "error", "fatal", "panic"])),
        )
        .attribute("log_format", opt_string("Manager log format.").validator(one_of(["runner", "text", "json"])))
        .attribute("shutdown_timeout", opt_int("Seconds the manager waits for jobs on shutdown (0 = the runner's default).", 0, 86_400 * 7))
        .attribute(
            "termination_grace_period_seconds",
            opt_int("Pod termination grace period of the manager.", 0, 86_400 * 7),
        )
        .attribute("replicas", opt_int("Manager replicas.", 0, 100))
        .block(
            "image",
            single(
                Block::new()
                    .description("Manager image; unset parts keep the chart's defaults.")
                    .attribute("registry", opt_string("Registry, e.g. `registry.gitlab.com`."))
                    .attribute("image", opt_string("Repository, e.g. `gitlab-org/gitlab-runner`."))
                    .attribute("tag", opt_string("Tag, e.g. `ubi-fips-v18.9.0` for the non-root UBI image.")),
            ),
        )
        .attribute("use_tini", opt_bool("Run the manager under tini (needed by the UBI images)."))
        .attribute(
            "image_pull_policy",
            opt_string("Manager image pull policy.").validator(one_of(["Always", "IfNotPresent", "Never"])),
        )
        .attribute(
            "image_pull_secrets",
            opt_strings("Pull Secret names, rendered both as the pod's `imagePullSecrets` and as the service account's."),
        )
        .block("rbac", single(rbac_block()))
        .block(
            "service_account",
            single(
                Block::new()
                    .description("The manager's service account.")
                    .attribute("create", opt_bool("Create the service account (unset: created when `rbac.create`)."))
                    .attribute("name", opt_string("Service account to create, or the existing one to use."))
                    .attribute("annotations", opt_map("Annotations, e.g. for workload identity.")),
            ),
        )
        .block("pod_security_context", single(pod_security_context_block()))
        .block("security_context", single(container_security_context_block()))
        .block(
            "resources",
            single(
                Block::new()
                    .description("Manager container resources.")
                    .attribute("requests", opt_map("Requests, e.g. `{ cpu = \"100m\", memory = \"128Mi\" }`."))
                    .attribute("limits", opt_map("Limits.")),
            ),
        )
        .attribute("node_selector", opt_map("Node selector of the manager pod."))
        .block(
            "toleration",
            NestedBlock::list(
                Block::new()
                    .description("A toleration of the manager pod.")
                    .attribute("key", opt_string("Taint key."))
                    .attribute("operator", opt_string("`Equal` or `Exists`.").validator(one_of(["Equal", "Exists"])))
                    .attribute("value", opt_string("Taint value."))
                    .attribute(
                        "effect",
                        opt_string("Taint effect.").validator(one_of(["NoSchedule", "PreferNoSchedule", "NoExecute"])),
                    )
                    .attribute("toleration_seconds", opt_int("Seconds a NoExecute taint is tolerated.", 0, i64::MAX)),
            ),
        )
        .attribute(
            "affinity",
            opt_string("Affinity of the manager pod as JSON (`jsonencode({...})`).")
                .validator(validators::affinity()),
        )
        .attribute("pod_annotations", opt_map("Annotations of the manager pod."))
        .attribute("pod_labels", opt_map("Labels of the manager pod."))
        .attribute("env", opt_map("Environment variables of the manager container."))
        .block("runner", single(runner_block()))
        .attribute(
            "runner_config_toml",
            opt_string("The runner config.toml (`runners.config`) as raw TOML, checked at plan time. Exactly one of `runner` and `runner_config_toml`."),
        )
        .attribute(
            "values",
            opt_strings("Extra chart values as YAML documents, merged last. A key a typed attribute sets is an error."),
        )
        .attribute("wait", Attribute::bool().optional().default(true).description("Wait until the release's objects are ready."))
        .attribute(
            "verify_runner",
            opt_bool("After the rollout, wait (within `timeout`) until GitLab lists a manager of this runner that contacted it after the rollout started, and fail saying why when none does (token, CA, URL). Default: true when the provider has GitLab access (a token) to the runner's own GitLab host (not when `allow_different_host` lets `base_url` name another host); without access no request is made. Needs `wait`."),
        )
        .attribute(
            "timeout",
            Attribute::int64()
                .optional()
                .default(DEFAULT_HELM_TIMEOUT_SECONDS)
                .validator(int_between(1, 86_400))
                .description("Seconds each helm operation may take."),
        )
        .attribute(
            "atomic",
            Attribute::bool().optional().default(false).description("Roll back a failed upgrade (helm 3 `--atomic`, helm 4 `--rollback-on-failure`)."),
        )
        .attribute(
            "recover_pending",
            Attribute::bool()
                .optional()
                .default(false)
                .description("When the release is stuck in `pending-install`/`pending-upgrade`/`pending-rollback` (helm was killed), roll back to the last deployed revision (or uninstall a never-deployed release) before applying."),
        )
        .attribute("runner_id", opt_int("GitLab runner id for the drain on destroy; found from the token when unset.", 1, i64::MAX))
        .attribute(
            "drain_timeout",
            Attribute::string()
                .optional()
                .default("30m")
                .validator(duration())
                .description("How long destroy waits for running jobs (a duration such as `30m`)."),
        )
        .attribute(
            "on_drain_timeout",
            Attribute::string()
                .optional()
                .default(OnDrainTimeout::default().as_str())
                .validator(one_of(OnDrainTimeout::ALL.map(OnDrainTimeout::as_str)))
                .description("What destroy does when jobs still run at `drain_timeout`: `fail` (keep the release, runner paused) or `force`."),
        )
        .attribute(
            "delete_runner_on_destroy",
            Attribute::bool().optional().default(false).description("Delete the runner in GitLab after uninstalling."),
        )
        .attribute(
            "drain_on_update",
            Attribute::bool().optional().default(false).description("Pause and drain the runner before an upgrade, then resume it."),
        )
        .attribute(
            "drift_ignore_field_managers",
            opt_strings("Field managers (the names in `metadata.managedFields`, e.g. `istio-operator`) whose additions to the release's objects are not drift; apply keeps them. Additions by any other manager except helm, this provider and Kubernetes' own components are drift, and apply removes them."),
        )
        .attribute("revision", Attribute::int64().computed().description("Helm revision of the release."))
        .attribute("status", computed_string("Helm status of the newest revision (`deployed`, `failed`, `pending-upgrade`…)."))
        .attribute("app_version", computed_string("The chart's appVersion (the runner version)."))
        .attribute("runner_config", computed_string("The runner config.toml the release uses (rendered from `runner`, or `runner_config_toml`)."))
        .attribute(
            "values_digest",
            computed_string("sha256 of the values helm recorded for the release; a change made outside Terraform (`helm upgrade --set`) shows as an update."),
        )
        .attribute(
            "drifted_objects",
            Attribute::list(Type::String)
                .computed()
                .description("Objects of the release edited, added to or deleted outside Terraform (`Kind namespace/name: field changed|missing|added by <field manager>`, `…: object deleted`); the next apply repairs them and removes what was added."),
        )
        .attribute(
            "manifest_objects",
            Attribute::list(Type::String).computed().description("Objects of the release, as `Kind/namespace/name`."),
        )
        .attribute(
            "runner_status",
            computed_string("The runner's status in GitLab (`online`, `offline`, `stale`, `never_contacted`; `deleted` when GitLab no longer has it), read by refresh when the provider has GitLab access (null without: nothing is requested)."),
        )
        .attribute(
            "runner_paused",
            Attribute::bool().computed().description("Whether the runner is paused in GitLab (refresh, with GitLab access). Paused by someone else is drift: the plan shows `true → false` and the apply unpauses it."),
        )
        .attribute(
            "online_managers",
            Attribute::int64().computed().description("How many of the runner's managers GitLab lists as online (refresh, with GitLab access)."),
        )
        .attribute(
            "runner_left_paused",
            Attribute::bool().computed().description("True while the GitLab runner stays paused because a `drain_on_update` upgrade was interrupted (cancelled, out of time, GitLab unreachable) before it could resume it; the next apply resumes it."),
        )
        .block(
            timeouts::BLOCK_NAME,
            timeouts::block(&[Operation::Create, Operation::Read, Operation::Update, Operation::Delete]),
        )
}

fn dns_label_or_subdomain() -> impl tfplugin::validators::Validator {
    super::names::dns_subdomain()
}

fn rbac_block() -> Block {
    Block::new()
        .description("RBAC of the manager: a Role (or ClusterRole) with explicit rules and its binding.")
        .attribute("create", opt_bool("Create the Role/ClusterRole and binding (`rbac.create`)."))
        .attribute("cluster_wide", opt_bool("A ClusterRole instead of a Role (`rbac.clusterWideAccess`)."))
        .attribute(
            "allow_chart_default_rules",
            opt_bool("Accept the chart's default when no `rule` is given: every verb on every core resource, Secrets included."),
        )
        .block(
            "rule",
            NestedBlock::list(
                Block::new()
                    .description("One RBAC rule.")
                    .attribute("api_groups", opt_strings("API groups (`\"\"` is the core group)."))
                    .attribute("resources", opt_strings("Resources, e.g. `pods`, `pods/exec`."))
                    .attribute("verbs", opt_strings("Verbs, e.g. `get`, `create`."))
                    .attribute("resource_names", opt_strings("Restrict to these object names.")),
            ),
        )
}

fn pod_security_context_block() -> Block {
    Block::new()
        .description("Security context of the manager pod.")
        .attribute("run_as_user", opt_int("UID.", 0, i64::from(u32::MAX)))
        .attribute("run_as_group", opt_int("GID.", 0, i64::from(u32::MAX)))
        .attribute("fs_group", opt_int("fsGroup.", 0, i64::from(u32::MAX)))
        .attribute("run_as_non_root", opt_bool("Refuse to run as root."))
        .attribute(
            "fs_group_change_policy",
            opt_string("`OnRootMismatch` or `Always`."),
        )
        .attribute(
            "supplemental_groups",
            Attribute::list(Type::Number)
                .optional()
                .description("Supplemental groups."),
        )
        .attribute(
            "seccomp_profile_type",
            opt_string("`RuntimeDefault`, `Localhost` or `Unconfined`."),
        )
}

fn container_security_context_block() -> Block {
    Block::new()
        .description("Security context of the manager container.")
        .attribute("run_as_non_root", opt_bool("Refuse to run as root."))
        .attribute("run_as_user", opt_int("UID.", 0, i64::from(u32::MAX)))
        .attribute("run_as_group", opt_int("GID.", 0, i64::from(u32::MAX)))
        .attribute(
            "allow_privilege_escalation",
            opt_bool("Allow privilege escalation."),
        )
        .attribute(
            "read_only_root_filesystem",
            opt_bool("Read-only root filesystem."),
        )
        .attribute(
            "privileged",
            opt_bool("Privileged container (the manager never needs it)."),
        )
        .attribute("capabilities_add", opt_strings("Capabilities to add."))
        .attribute(
            "capabilities_drop",
            opt_strings("Capabilities to drop, e.g. `[\"ALL\"]`."),
        )
        .attribute(
            "seccomp_profile_type",
            opt_string("`RuntimeDefault`, `Localhost` or `Unconfined`."),
        )
}

fn volume_block(description: &str, extra: &[(&str, Attribute)]) -> NestedBlock {
    let mut block = Block::new()
        .description(description)
        .attribute(
            "name",
            Attribute::string()
                .required()
                .description("Volume name (the object name for pvc/config_map/secret)."),
        )
        .attribute(
            "mount_path",
            Attribute::string()
                .required()
                .description("Where the volume is mounted in job containers."),
        )
        .attribute("sub_path", opt_string("Mount only this sub-path."));
    for (name, attribute) in extra {
        block = block.attribute(*name, attribute.clone());
    }
    NestedBlock::list(block)
}

fn resource_attributes(block: Block, prefix: &str, whose: &str) -> Block {
    let mut block = block;
    for quantity in [
        "cpu_request",
        "cpu_limit",
        "memory_request",
        "memory_limit",
        "ephemeral_storage_request",
        "ephemeral_storage_limit",
    ] {
        block = block.attribute(
            format!("{prefix}{quantity}"),
            opt_string(&format!(
                "{} of the {whose} container (a Kubernetes quantity).",
                quantity.replace('_', " ")
            )),
        );
    }
    block
}

fn kubernetes_block() -> Block {
    let items = || opt_map("Key → path relative to `mount_path`; all keys when empty.");
    let read_only = || opt_bool("Mount read-only.");
    let block = Block::new()
        .description("`[runners.kubernetes]`: how job pods are run.")
        .attribute("namespace", opt_string("Namespace of job pods."))
        .attribute("image", opt_string("Default job image."))
        .attribute("privileged", opt_bool("Run job containers privileged (Docker-in-Docker). Pair it with `allowed_images`."))
        .attribute("allow_privilege_escalation", opt_bool("Allow privilege escalation in job containers."))
        .attribute("allowed_images", opt_strings("Glob patterns of images jobs may use."))
        .attribute("allowed_services", opt_strings("Glob patterns of service images jobs may use."))
        .attribute(
            "pull_policy",
            opt_strings("Pull policies (`always`, `if-not-present`, `never`)."),
        )
        .attribute("allowed_pull_policies", opt_strings("Pull policies jobs may ask for."))
        .attribute("service_account", opt_string("Service account of job pods."))
        .attribute("image_pull_secrets", opt_strings("Pull Secrets of job pods."))
        .attribute("helper_image", opt_string("Helper image."))
        .attribute("poll_interval", opt_int("Seconds between pod status polls.", 1, 3600))
        .attribute("poll_timeout", opt_int("Seconds to wait for a job pod to start.", 1, 86_400))
        .attribute(
            "pod_termination_grace_period_seconds",
            opt_int("Grace period of job pods.", 0, 86_400),
        )
        .attribute("priority_class_name", opt_string("Priority class of job pods."))
        .attribute("scheduler_name", opt_string("Scheduler of job pods."))
        .attribute("node_selector", opt_map("Node selector of job pods."))
        .attribute("node_tolerations", opt_map("Tolerations of job pods: `\"key=value\" = \"Effect\"`."))
        .attribute("pod_labels", opt_map("Labels of job pods."))
        .attribute("pod_annotations", opt_map("Annotations of job pods."))
        .block(
            "empty_dir_volume",
            volume_block(
                "An emptyDir volume (e.g. Docker-in-Docker certificates at `/certs/client` with `medium = \"Memory\"`).",
                &[
                    ("medium", opt_string("`Memory` for tmpfs; unset for the node's disk.").validator(one_of(["", "Memory"]))),
                    ("size_limit", opt_string("Size limit, a quantity such as `1Gi`.")),
                ],
            ),
        )
        .block(
            "host_path_volume",
            volume_block(
                "A hostPath volume.",
                &[("host_path", opt_string("Path on the node (defaults to `mount_path`).")), ("read_only", read_only())],
            ),
        )
        .block("pvc_volume", volume_block("A PersistentVolumeClaim volume.", &[("read_only", read_only())]))
        .block(
            "config_map_volume",
            volume_block("A ConfigMap volume.", &[("read_only", read_only()), ("items", items())]),
        )
        .block(
            "secret_volume",
            volume_block("A Secret volume.", &[("read_only", read_only()), ("items", items())]),
        );
    let block = resource_attributes(block, "", "build");
    let block = resource_attributes(block, "helper_", "helper");
    resource_attributes(block, "service_", "service")
}

fn cache_block() -> Block {
    Block::new()
        .description("`[runners.cache]`: credentials come only from the Secret `secret_name`.")
        .attribute(
            "type",
            opt_string("`s3`, `gcs` or `azure` (implied by the one settings block when unset).")
                .validator(one_of(["s3", "gcs", "azure"])),
        )
        .attribute("path", opt_string("Prefix inside the bucket."))
        .attribute("shared", opt_bool("Share the cache between runners."))
        .attribute(
            "secret_name",
            opt_string(
                "Secret with the backend's credentials (chart value `runners.cache.secretName`).",
            ),
        )
        .attribute(
            "max_uploaded_archive_size",
            opt_int("Largest cache archive uploaded, in bytes.", 0, i64::MAX),
        )
        .block(
            "s3",
            single(
                Block::new()
                    .description("S3 settings.")
                    .attribute(
                        "server_address",
                        opt_string("S3 endpoint, e.g. `s3.amazonaws.com`."),
                    )
                    .attribute(
                        "bucket_name",
                        Attribute::string().required().description("Bucket."),
                    )
                    .attribute("bucket_location", opt_string("Region."))
                    .attribute("insecure", opt_bool("Plain HTTP."))
                    .attribute(
                        "authentication_type",
                        opt_string("`access-key` (from the Secret) or `iam`.")
                            .validator(one_of(["access-key", "iam"])),
                    ),
            ),
        )
        .block(
            "gcs",
            single(
                Block::new()
                    .description("Google Cloud Storage settings.")
                    .attribute(
                        "bucket_name",
                        Attribute::string().required().description("Bucket."),
                    ),
            ),
        )
        .block(
            "azure",
            single(
                Block::new()
                    .description("Azure Blob Storage settings.")
                    .attribute(
                        "container_name",
                        Attribute::string().required().description("Container."),
                    )
                    .attribute(
                        "storage_domain",
                        opt_string("e.g. `blob.core.windows.net`."),
                    ),
            ),
        )
}

/// The `runner` block (also the argument shape of the `runner_config` function).
pub fn runner_block() -> Block {
    Block::new()
        .description("The runner config.toml (`runners.config`) from typed settings. Exactly one of `runner` and `runner_config_toml`.")
        .attribute("executor", opt_string("Executor; `kubernetes` when unset."))
        .attribute("url", opt_string("GitLab URL for the runner when it differs from `gitlab_url`."))
        .attribute("clone_url", opt_string("URL jobs clone from."))
        .attribute("environment", opt_strings("Job environment as `NAME=value` strings."))
        .attribute("feature_flags", Attribute::map(Type::Bool).optional().description("Runner feature flags."))
        .attribute("limit", opt_int("Most jobs this runner handles at once (0 = no limit).", 0, 100_000))
        .attribute("output_limit", opt_int("Job log limit in kilobytes.", 1, i64::from(u32::MAX)))
        .attribute("request_concurrency", opt_int("Concurrent job requests.", 1, 1000))
        .attribute("builds_dir", opt_string("Builds directory in job containers."))
        .attribute("cache_dir", opt_string("Cache directory in job containers."))
        .attribute("pre_get_sources_script", opt_string("Script run before fetching sources."))
        .attribute("post_get_sources_script", opt_string("Script run after fetching sources."))
        .attribute("pre_build_script", opt_string("Script run before each build."))
        .attribute("post_build_script", opt_string("Script run after each build."))
        .block("kubernetes", single(kubernetes_block()))
        .block("cache", single(cache_block()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_sound() {
        let problems = super::schema().check();
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
