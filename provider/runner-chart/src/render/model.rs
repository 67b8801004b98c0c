//! Typed runner settings: what the provider's typed blocks map onto. Every field is optional (or an
//! empty collection) and omitted from the TOML when unset, so the runner's own defaults apply.
//! Credentials have no field here on purpose: the cache reads them from the Secret named by the chart's
//! `runners.cache.secretName`, the runner token from `runners.secret`.

use std::collections::BTreeMap;

use crate::finding::{ConfigPath, Finding, Rule};

/// One `[[runners]]` entry — everything `runners.config` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerConfigInput {
    /// `name`. (The chart's `runners.name` value is what registration uses; setting both is allowed.)
    pub name: Option<String>,
    /// `url`: the GitLab URL, when it differs from the chart's `gitlabUrl`.
    pub url: Option<String>,
    /// `clone_url`.
    pub clone_url: Option<String>,
    /// `executor`; rendered as `"kubernetes"` when unset.
    pub executor: Option<String>,
    /// `limit`: most jobs this runner handles at once (0 = no limit).
    pub limit: Option<u32>,
    /// `output_limit` in kilobytes.
    pub output_limit: Option<u32>,
    /// `request_concurrency` (at least 1).
    pub request_concurrency: Option<u32>,
    /// `builds_dir`.
    pub builds_dir: Option<String>,
    /// `cache_dir`.
    pub cache_dir: Option<String>,
    /// `environment`, rendered as `["NAME=value", ...]` in name order.
    pub environment: BTreeMap<String, String>,
    /// `pre_get_sources_script`.
    pub pre_get_sources_script: Option<String>,
    /// `post_get_sources_script`.
    pub post_get_sources_script: Option<String>,
    /// `pre_build_script`.
    pub pre_build_script: Option<String>,
    /// `post_build_script`.
    pub post_build_script: Option<String>,
    /// `[runners.feature_flags]`.
    pub feature_flags: BTreeMap<String, bool>,
    /// `[runners.kubernetes]`.
    pub kubernetes: KubernetesConfig,
    /// `[runners.cache]`.
    pub cache: Option<CacheConfig>,
}

/// `[runners.kubernetes]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesConfig {
    pub image: Option<String>,
    pub namespace: Option<String>,
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    /// Glob patterns of images jobs may use (runner ≥ 14.2).
    pub allowed_images: Vec<String>,
    /// Glob patterns of service images jobs may use.
    pub allowed_services: Vec<String>,
    pub allowed_pull_policies: Vec<PullPolicy>,
    /// Rendered as a string when it has one entry, as an array otherwise.
    pub pull_policy: Vec<PullPolicy>,
    pub service_account: Option<String>,
    pub image_pull_secrets: Vec<String>,
    pub helper_image: Option<String>,
    /// Requests and limits of the build container (`cpu_request`, `memory_limit`, ...).
    pub build_resources: ContainerResources,
    /// Requests and limits of service containers (`service_cpu_request`, ...).
    pub service_resources: ContainerResources,
    /// Requests and limits of the helper container (`helper_cpu_request`, ...).
    pub helper_resources: ContainerResources,
    /// `poll_interval` in seconds.
    pub poll_interval: Option<u32>,
    /// `poll_timeout` in seconds.
    pub poll_timeout: Option<u32>,
    pub pod_termination_grace_period_seconds: Option<u32>,
    pub priority_class_name: Option<String>,
    pub scheduler_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    /// `"key=value" = "Effect"` pairs, as the runner takes them.
    pub node_tolerations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub volumes: Volumes,
}

/// Kubernetes quantities (`"500m"`, `"1Gi"`) for one kind of container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResources {
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
    pub ephemeral_storage_request: Option<String>,
    pub ephemeral_storage_limit: Option<String>,
}

impl ContainerResources {
    /// `(key suffix, value)` in rendering order.
    pub(crate) fn entries(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("cpu_request", self.cpu_request.as_deref()),
            ("cpu_limit", self.cpu_limit.as_deref()),
            ("memory_request", self.memory_request.as_deref()),
            ("memory_limit", self.memory_limit.as_deref()),
            (
                "ephemeral_storage_request",
                self.ephemeral_storage_request.as_deref(),
            ),
            (
                "ephemeral_storage_limit",
                self.ephemeral_storage_limit.as_deref(),
            ),
        ]
    }
}

/// An image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// The runner's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::IfNotPresent => "if-not-present",
            Self::Never => "never",
        }
    }

    /// Parses the runner's spelling (`always`, `if-not-present`, `never`).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Always, Self::IfNotPresent, Self::Never]
            .into_iter()
            .find(|policy| policy.as_str() == text)
    }
}

/// `[runners.kubernetes.volumes]`: one list per volume kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volumes {
    pub empty_dir: Vec<EmptyDirVolume>,
    pub host_path: Vec<HostPathVolume>,
    pub pvc: Vec<PvcVolume>,
    pub config_map: Vec<ConfigMapVolume>,
    pub secret: Vec<SecretVolume>,
}

/// The storage medium of an `emptyDir`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmptyDirMedium {
    /// The node's disk (rendered by leaving `medium` out).
    #[default]
    Disk,
    /// tmpfs (`medium = "Memory"`).
    Memory,
}

impl EmptyDirMedium {
    /// Parses Kubernetes' spelling: `""` (the node's disk) or `"Memory"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" => Some(Self::Disk),
            "Memory" => Some(Self::Memory),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmptyDirVolume {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub medium: EmptyDirMedium,
    /// A quantity such as `"1Gi"`.
    pub size_limit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPathVolume {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    /// The path on the node; the runner uses `mount_path` when unset.
    pub host_path: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PvcVolume {
    /// The PersistentVolumeClaim's name.
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: Option<bool>,
}

/// A ConfigMap or Secret mounted into job pods (`[[runners.kubernetes.volumes.config_map]]` and
/// `[[runners.kubernetes.volumes.secret]]` have the same shape).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectedVolume {
    /// The ConfigMap's or Secret's name.
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: Option<bool>,
    /// Key → path relative to `mount_path`; all keys when empty.
    pub items: BTreeMap<String, String>,
}

/// A ConfigMap mounted into job pods.
pub type ConfigMapVolume = ProjectedVolume;
/// A Secret mounted into job pods.
pub type SecretVolume = ProjectedVolume;

/// `[runners.cache]`. The backend's credentials come from the Secret named by the chart value
/// `runners.cache.secretName`; there is deliberately no field for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub backend: CacheBackend,
    /// `Path`: a prefix inside the bucket/container.
    pub path: Option<String>,
    /// `Shared`: share the cache between runners.
    pub shared: Option<bool>,
    /// `MaxUploadedArchiveSize` in bytes.
    pub max_uploaded_archive_size: Option<u64>,
}

/// The cache backend and its settings (`Type` plus the matching sub-table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheBackend {
    S3(S3Cache),
    Gcs(GcsCache),
    Azure(AzureCache),
}

impl CacheBackend {
    /// Builds the backend from the shape users write (`type` plus one settings block per backend):
    /// the block matching `type_name` must be given and no other; without `type_name`, exactly one
    /// block must be given and names the backend. Errors are findings at `runners[0].cache`.
    pub fn from_blocks(
        type_name: Option<&str>,
        s3: Option<S3Cache>,
        gcs: Option<GcsCache>,
        azure: Option<AzureCache>,
    ) -> Result<Self, Finding> {
        let path = ConfigPath::root().key("runners").index(0).key("cache");
        let given: Vec<&str> = [
            ("s3", s3.is_some()),
            ("gcs", gcs.is_some()),
            ("azure", azure.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        let invalid = |detail: String| {
            Finding::error(
                Rule::InvalidInput,
                path.clone(),
                "Invalid Cache Settings",
                detail,
            )
        };
        let chosen = match (type_name, given.as_slice()) {
            (Some(name), _) if !["s3", "gcs", "azure"].contains(&name) => {
                return Err(invalid(format!(
                    "The cache type must be s3, gcs or azure, not {name:?}."
                )));
            }
            (Some(name), [only]) if *only == name => name,
            (Some(name), []) => {
                return Err(invalid(format!(
                    "The cache type is {name}: add its {name} settings block."
                )));
            }
            (Some(name), _) => {
                return Err(invalid(format!(
                    "The cache type is {name}, but settings are given for {}: keep only the {name} block.",
                    given.join(" and ")
                )));
            }
            (None, [only]) => *only,
            (None, []) => {
                return Err(invalid(
                    "The cache needs one settings block: s3, gcs or azure.".to_owned(),
                ));
            }
            (None, _) => {
                return Err(invalid(format!(
                    "Only one cache backend can be configured; settings are given for {}.",
                    given.join(" and ")
                )));
            }
        };
        Ok(match chosen {
            "s3" => Self::S3(s3.unwrap_or_default()),
            "gcs" => Self::Gcs(gcs.unwrap_or_default()),
            _ => Self::Azure(azure.unwrap_or_default()),
        })
    }

    /// The value of `Type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S3(_) => "s3",
            Self::Gcs(_) => "gcs",
            Self::Azure(_) => "azure",
        }
    }
}

/// `[runners.cache.s3]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Cache {
    pub server_address: Option<String>,
    pub bucket_name: String,
    pub bucket_location: Option<String>,
    pub insecure: Option<bool>,
    pub authentication_type: Option<S3AuthenticationType>,
}

/// How the runner authenticates to S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3AuthenticationType {
    /// Access key and secret key from the cache Secret.
    AccessKey,
    /// The pod's IAM role (workload identity).
    Iam,
}

impl S3AuthenticationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessKey => "access-key",
            Self::Iam => "iam",
        }
    }

    /// Parses the runner's spelling (`access-key`, `iam`).
    pub fn parse(text: &str) -> Option<Self> {
        [Self::AccessKey, Self::Iam]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// `[runners.cache.gcs]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcsCache {
    pub bucket_name: String,
}

/// `[runners.cache.azure]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureCache {
    pub container_name: String,
    /// e.g. `blob.core.windows.net`.
    pub storage_domain: Option<String>,
}
