//! Typed values for the `gitlab-runner` chart (interface of chart 0.86), rendered to the JSON tree
//! Helm reads as a values file.
//!
//! [`ChartValues::to_values`] refuses settings the chart would silently turn into something
//! surprising (an empty RBAC rule list, concurrent = 0); [`merge_user_values`] applies the user's YAML
//! escape hatch last and refuses keys a typed attribute already sets; [`scan_for_credentials`] warns
//! about credentials anywhere in values.

mod digest;
mod kube;
mod merge;
mod scan;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::finding::{ConfigPath, Finding, Rule};

pub use digest::{TOKEN_DIGEST_ANNOTATION, TokenDigest};
pub use kube::{
    Capabilities, ContainerSecurityContext, PodSecurityContext, PolicyRule, ResourceRequirements,
    SeccompProfile, Toleration,
};
pub use merge::{MergeError, merge_user_values, parse_user_values, user_values_conflicts};
pub use scan::scan_for_credentials;

/// The runner manager's log level (`logLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Panic,
}

impl LogLevel {
    /// Parses the runner's spelling (`debug`, `info`, `warn`, `error`, `fatal`, `panic`).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Debug,
            Self::Info,
            Self::Warn,
            Self::Error,
            Self::Fatal,
            Self::Panic,
        ]
        .into_iter()
        .find(|level| level.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Fatal => "fatal",
            Self::Panic => "panic",
        }
    }
}

/// The runner manager's log format (`logFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Runner,
    Text,
    Json,
}

impl LogFormat {
    /// Parses the runner's spelling (`runner`, `text`, `json`).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Runner, Self::Text, Self::Json]
            .into_iter()
            .find(|format| format.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runner => "runner",
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// The manager image: `image.registry`, `image.image`, `image.tag`. Unset parts keep the chart's
/// defaults (`registry.gitlab.com`, `gitlab-org/gitlab-runner`, `alpine-v<appVersion>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub image: Option<String>,
    pub tag: Option<String>,
}

/// `rbac.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rbac {
    /// `rbac.create`: render a Role (or ClusterRole) and its binding.
    pub create: bool,
    /// `rbac.clusterWideAccess`: a ClusterRole instead of a Role.
    pub cluster_wide_access: bool,
    /// `rbac.rules`. Must not be empty when `create` is set, unless `allow_chart_default_rules`.
    pub rules: Vec<PolicyRule>,
    /// Accept the chart's default for an empty rule list: every verb on every resource of the core API group.
    pub allow_chart_default_rules: bool,
}

/// `serviceAccount.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccount {
    /// `serviceAccount.create`; unset = the chart decides (it creates one when `rbac.create`).
    pub create: Option<bool>,
    /// `serviceAccount.name`: the account to create, or the existing one to use.
    pub name: Option<String>,
    /// `serviceAccount.annotations` (e.g. workload identity).
    pub annotations: BTreeMap<String, String>,
}

/// One entry of `envVars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// `runners.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnersValues {
    /// `runners.config`: the runner TOML (rendered or user-written; check it with
    /// [`crate::validate_runner_config`] — this type does not re-check it).
    pub config: String,
    /// `runners.name`: keep it stable, job pods are labelled with it.
    pub name: Option<String>,
    /// `runners.secret`: the name of the token Secret (keys `runner-token`, `runner-registration-token`).
    pub secret: String,
    /// `runners.cache.secretName`: the Secret holding cache credentials.
    pub cache_secret_name: Option<String>,
    /// `runners.jobNamespace`: where job pods run.
    pub job_namespace: Option<String>,
}

/// Typed values for the chart. Unset options are left out, so the chart's defaults apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartValues {
    /// `gitlabUrl` (required).
    pub gitlab_url: String,
    pub concurrent: Option<u32>,
    /// `checkInterval` in seconds.
    pub check_interval: Option<u32>,
    pub log_level: Option<LogLevel>,
    pub log_format: Option<LogFormat>,
    /// `shutdown_timeout` in seconds (0 = the runner's default of 30 s).
    pub shutdown_timeout: Option<u32>,
    pub termination_grace_period_seconds: Option<u64>,
    pub replicas: Option<u32>,
    pub image: ImageRef,
    /// `imagePullPolicy`: `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: Option<String>,
    pub use_tini: Option<bool>,
    /// Secret names, rendered both as `imagePullSecrets: [{name}]` and as
    /// `serviceAccount.imagePullSecrets: [name]`.
    pub image_pull_secrets: Vec<String>,
    pub rbac: Rbac,
    pub service_account: ServiceAccount,
    pub security_context: Option<ContainerSecurityContext>,
    pub pod_security_context: Option<PodSecurityContext>,
    pub resources: ResourceRequirements,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// A Kubernetes `Affinity` object, passed through as given.
    pub affinity: Option<Value>,
    pub pod_annotations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    /// `envVars`: environment of the manager container.
    pub env_vars: Vec<EnvVar>,
    /// `certsSecretName`: Secret with `<gitlab-host>.crt` for a private CA.
    pub certs_secret_name: Option<String>,
    pub runners: RunnersValues,
    pub unregister_runners: Option<bool>,
    /// Rendered as the pod annotation [`TOKEN_DIGEST_ANNOTATION`] so that token rotation rolls the manager.
    pub token_digest: Option<TokenDigest>,
}

fn invalid(path: &str, detail: impl Into<String>) -> Finding {
    let path: ConfigPath = path.split('.').collect();
    Finding::error(Rule::InvalidInput, path, "Invalid Chart Setting", detail)
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect(),
    )
}

/// Inserts `value` at `key` when present.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<Value> {
    (!map.is_empty()).then(|| string_map(map))
}

impl ChartValues {
    /// Every problem with these settings (empty when they can be rendered).
    pub fn check(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let url = self.gitlab_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.len() <= "https://".len()
        {
            findings.push(invalid(
                "gitlabUrl",
                "gitlab_url must be the GitLab instance's http(s) URL, such as https://gitlab.example.com/.",
            ));
        }
        if self.concurrent == Some(0) {
            findings.push(invalid(
                "concurrent",
                "concurrent must be at least 1: with 0 the runner would never run a job.",
            ));
        }
        if self.runners.secret.trim().is_empty() {
            findings.push(invalid(
                "runners.secret",
                "The runner needs the name of its token Secret (keys runner-token and runner-registration-token).",
            ));
        }
        if self
            .runners
            .name
            .as_deref()
            .is_some_and(|name| name.trim().is_empty())
        {
            findings.push(invalid(
                "runners.name",
                "The runner name must not be empty.",
            ));
        }
        if self
            .image_pull_secrets
            .iter()
            .any(|name| name.trim().is_empty())
        {
            findings.push(invalid(
                "imagePullSecrets",
                "Image pull secret names must not be empty.",
            ));
        }
        if let Some(policy) = &self.image_pull_policy
            && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
        {
            findings.push(invalid(
                "imagePullPolicy",
                "imagePullPolicy must be Always, IfNotPresent or Never.",
            ));
        }
        findings.extend(self.check_rbac());
        if self.token_digest.is_some() && self.pod_annotations.contains_key(TOKEN_DIGEST_ANNOTATION)
        {
            findings.push(invalid(
                "podAnnotations",
                format!("The pod annotation {TOKEN_DIGEST_ANNOTATION} is managed by the provider; remove it from pod_annotations."),
            ));
        }
        if self.env_vars.iter().any(|env| env.name.trim().is_empty()) {
            findings.push(invalid(
                "envVars",
                "Environment variable names must not be empty.",
            ));
        }
        findings
    }

    fn check_rbac(&self) -> Vec<Finding> {
        let rbac = &self.rbac;
        let mut findings = Vec::new();
        if rbac.create && rbac.rules.is_empty() && !rbac.allow_chart_default_rules {
            let scope = if rbac.cluster_wide_access {
                "a ClusterRole granting every verb (*) on every resource (*) of the core API group in all namespaces"
            } else {
                "a Role granting every verb (*) on every resource (*) of the core API group, Secrets included"
            };
            findings.push(invalid(
                "rbac.rules",
                format!(
                    "RBAC creation is on but no rules are given: the chart then renders {scope}. List the \
                     rules the runner needs (for the Kubernetes executor: pods, pods/exec, pods/attach, \
                     pods/log, secrets, configmaps, services, events), or opt in to the chart's default \
                     explicitly with allow_chart_default_rules."
                ),
            ));
        }
        for (index, rule) in rbac.rules.iter().enumerate() {
            if rule.verbs.is_empty() || rule.resources.is_empty() || rule.api_groups.is_empty() {
                let mut finding = invalid(
                    "rbac.rules",
                    "Each RBAC rule needs api_groups (\"\" is the core group), resources and verbs.",
                );
                finding.path = finding.path.index(index);
                findings.push(finding);
            }
        }
        findings
    }

    /// The values tree for Helm, or the problems that prevent rendering it.
    pub fn to_values(&self) -> Result<Value, Vec<Finding>> {
        let findings = self.check();
        if !findings.is_empty() {
            return Err(findings);
        }
        let mut values = Map::new();
        values.insert("gitlabUrl".to_owned(), json!(self.gitlab_url));
        put(&mut values, "concurrent", self.concurrent.map(|v| json!(v)));
        put(
            &mut values,
            "checkInterval",
            self.check_interval.map(|v| json!(v)),
        );
        put(
            &mut values,
            "logLevel",
            self.log_level.map(|v| json!(v.as_str())),
        );
        put(
            &mut values,
            "logFormat",
            self.log_format.map(|v| json!(v.as_str())),
        );
        put(
            &mut values,
            "shutdown_timeout",
            self.shutdown_timeout.map(|v| json!(v)),
        );
        put(
            &mut values,
            "terminationGracePeriodSeconds",
            self.termination_grace_period_seconds.map(|v| json!(v)),
        );
        // Pinned (1 unless set): the chart renders `replicas` only when the value is set, and a
        // Deployment without it would let a hand-made `kubectl scale` pass as no drift.
        put(
            &mut values,
            "replicas",
            Some(json!(self.replicas.unwrap_or(1))),
        );
        put(&mut values, "image", self.image_values());
        put(
            &mut values,
            "imagePullPolicy",
            self.image_pull_policy.as_ref().map(|v| json!(v)),
        );
        put(&mut values, "useTini", self.use_tini.map(|v| json!(v)));
        if !self.image_pull_secrets.is_empty() {
            let objects: Vec<Value> = self
                .image_pull_secrets
                .iter()
                .map(|name| json!({ "name": name }))
                .collect();
            values.insert("imagePullSecrets".to_owned(), Value::Array(objects));
        }
        put(&mut values, "rbac", self.rbac_values());
        put(&mut values, "serviceAccount", self.service_account_values());
        put(
            &mut values,
            "securityContext",
            self.security_context.as_ref().map(|v| json!(v)),
        );
        put(
            &mut values,
            "podSecurityContext",
            self.pod_security_context.as_ref().map(|v| json!(v)),
        );
        put(
            &mut values,
            "resources",
            (!self.resources.is_empty()).then(|| json!(self.resources)),
        );
        put(
            &mut values,
            "nodeSelector",
            non_empty_map(&self.node_selector),
        );
        put(
            &mut values,
            "tolerations",
            (!self.tolerations.is_empty()).then(|| json!(self.tolerations)),
        );
        put(&mut values, "affinity", self.affinity.clone());
        let mut annotations = self.pod_annotations.clone();
        if let Some(digest) = &self.token_digest {
            annotations.insert(
                TOKEN_DIGEST_ANNOTATION.to_owned(),
                digest.as_str().to_owned(),
            );
        }
        put(&mut values, "podAnnotations", non_empty_map(&annotations));
        put(&mut values, "podLabels", non_empty_map(&self.pod_labels));
        if !self.env_vars.is_empty() {
            let env: Vec<Value> = self
                .env_vars
                .iter()
                .map(|env| json!({ "name": env.name, "value": env.value }))
                .collect();
            values.insert("envVars".to_owned(), Value::Array(env));
        }
        put(
            &mut values,
            "certsSecretName",
            self.certs_secret_name.as_ref().map(|v| json!(v)),
        );
        values.insert("runners".to_owned(), self.runners_values());
        put(
            &mut values,
            "unregisterRunners",
            self.unregister_runners.map(|v| json!(v)),
        );
        Ok(Value::Object(values))
    }

    fn image_values(&self) -> Option<Value> {
        let mut image = Map::new();
        put(
            &mut image,
            "registry",
            self.image.registry.as_ref().map(|v| json!(v)),
        );
        put(
            &mut image,
            "image",
            self.image.image.as_ref().map(|v| json!(v)),
        );
        put(&mut image, "tag", self.image.tag.as_ref().map(|v| json!(v)));
        (!image.is_empty()).then_some(Value::Object(image))
    }

    fn rbac_values(&self) -> Option<Value> {
        let rbac = &self.rbac;
        if rbac == &Rbac::default() {
            return None;
        }
        Some(json!({
            "create": rbac.create,
            "clusterWideAccess": rbac.cluster_wide_access,
            "rules": rbac.rules,
        }))
    }

    fn service_account_values(&self) -> Option<Value> {
        let account = &self.service_account;
        let mut object = Map::new();
        put(&mut object, "create", account.create.map(|v| json!(v)));
        put(&mut object, "name", account.name.as_ref().map(|v| json!(v)));
        put(
            &mut object,
            "annotations",
            non_empty_map(&account.annotations),
        );
        if !self.image_pull_secrets.is_empty() {
            object.insert(
                "imagePullSecrets".to_owned(),
                json!(self.image_pull_secrets),
            );
        }
        (!object.is_empty()).then_some(Value::Object(object))
    }

    fn runners_values(&self) -> Value {
        let runners = &self.runners;
        let mut object = Map::new();
        object.insert("config".to_owned(), json!(runners.config));
        put(&mut object, "name", runners.name.as_ref().map(|v| json!(v)));
        object.insert("secret".to_owned(), json!(runners.secret));
        put(
            &mut object,
            "cache",
            runners
                .cache_secret_name
                .as_ref()
                .map(|name| json!({ "secretName": name })),
        );
        put(
            &mut object,
            "jobNamespace",
            runners.job_namespace.as_ref().map(|v| json!(v)),
        );
        Value::Object(object)
    }
}
