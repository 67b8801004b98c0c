//! The resource's attributes as serde structs (field names = attribute names). Read-only: the
//! resource writes computed attributes one by one (`Document::set_attr`).
//!
//! Nested blocks accept a list (how Terraform sends `block { … }`), a single object (how users
//! write the argument of the `runner_config` function) or null.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tfplugin::TfValue;
use tfplugin::timeouts::Timeouts;

/// Null, one object or a list of objects, read as a list. Decided by the value's shape in one
/// pass (an untagged enum would buffer every block and try each variant in turn, on every read).
pub fn blocks<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_option(Blocks(PhantomData))
}

struct Blocks<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Blocks<T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("null, an object or a list of objects")
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(items)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|item| vec![item])
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseModel {
    pub id: TfValue<String>,
    pub name: String,
    pub namespace: String,
    pub create_namespace: Option<bool>,
    pub repository: Option<String>,
    pub chart: Option<String>,
    pub chart_version: TfValue<String>,
    pub repository_username: Option<String>,
    pub repository_password: Option<String>,
    /// Write-only: only the configuration carries it (null in plan and state).
    pub repository_password_wo: Option<String>,
    pub repository_ca_certificate: Option<String>,
    pub repository_insecure_skip_tls_verify: Option<bool>,
    pub repository_plain_http: Option<bool>,
    pub gitlab_url: Option<String>,
    pub token_secret_name: Option<String>,
    pub token_digest: Option<String>,
    pub secret_digests: Option<BTreeMap<String, String>>,
    pub cert_secret_name: Option<String>,
    pub runner_name: TfValue<String>,
    pub concurrent: Option<i64>,
    pub check_interval: Option<i64>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub shutdown_timeout: Option<i64>,
    pub termination_grace_period_seconds: Option<i64>,
    pub replicas: Option<i64>,
    #[serde(default, deserialize_with = "blocks")]
    pub image: Vec<ImageModel>,
    pub use_tini: Option<bool>,
    pub image_pull_policy: Option<String>,
    pub image_pull_secrets: Option<Vec<String>>,
    #[serde(default, deserialize_with = "blocks")]
    pub rbac: Vec<RbacModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub service_account: Vec<ServiceAccountModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub pod_security_context: Vec<PodSecurityContextModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub security_context: Vec<ContainerSecurityContextModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub resources: Vec<ResourcesModel>,
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "blocks")]
    pub toleration: Vec<TolerationModel>,
    pub affinity: Option<String>,
    pub pod_annotations: Option<BTreeMap<String, String>>,
    pub pod_labels: Option<BTreeMap<String, String>>,
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "blocks")]
    pub runner: Vec<RunnerModel>,
    pub runner_config_toml: Option<String>,
    pub values: Option<Vec<String>>,
    pub wait: Option<bool>,
    pub verify_runner: Option<bool>,
    pub timeout: Option<i64>,
    pub atomic: Option<bool>,
    pub recover_pending: Option<bool>,
    pub runner_id: Option<i64>,
    pub drain_timeout: Option<String>,
    pub on_drain_timeout: Option<String>,
    pub delete_runner_on_destroy: Option<bool>,
    pub drain_on_update: Option<bool>,
    pub drift_ignore_field_managers: Option<Vec<String>>,
    pub revision: TfValue<i64>,
    pub status: TfValue<String>,
    pub app_version: TfValue<String>,
    pub runner_config: TfValue<String>,
    pub values_digest: TfValue<String>,
    pub drifted_objects: TfValue<Vec<String>>,
    pub manifest_objects: TfValue<Vec<String>>,
    pub runner_left_paused: TfValue<bool>,
    pub runner_status: TfValue<String>,
    pub runner_paused: TfValue<bool>,
    pub online_managers: TfValue<i64>,
    pub timeouts: Option<Timeouts>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageModel {
    pub registry: Option<String>,
    pub image: Option<String>,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbacModel {
    pub create: Option<bool>,
    pub cluster_wide: Option<bool>,
    pub allow_chart_default_rules: Option<bool>,
    #[serde(default, deserialize_with = "blocks")]
    pub rule: Vec<RuleModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleModel {
    pub api_groups: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub verbs: Option<Vec<String>>,
    pub resource_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountModel {
    pub create: Option<bool>,
    pub name: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSecurityContextModel {
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub fs_group: Option<i64>,
    pub run_as_non_root: Option<bool>,
    pub fs_group_change_policy: Option<String>,
    pub supplemental_groups: Option<Vec<i64>>,
    pub seccomp_profile_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSecurityContextModel {
    pub run_as_non_root: Option<bool>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub allow_privilege_escalation: Option<bool>,
    pub read_only_root_filesystem: Option<bool>,
    pub privileged: Option<bool>,
    pub capabilities_add: Option<Vec<String>>,
    pub capabilities_drop: Option<Vec<String>>,
    pub seccomp_profile_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesModel {
    pub requests: Option<BTreeMap<String, String>>,
    pub limits: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TolerationModel {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

/// The `runner` block, and the argument of the `runner_config` function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerModel {
    pub executor: Option<String>,
    pub url: Option<String>,
    pub clone_url: Option<String>,
    pub environment: Option<Vec<String>>,
    pub feature_flags: Option<BTreeMap<String, bool>>,
    pub limit: Option<i64>,
    pub output_limit: Option<i64>,
    pub request_concurrency: Option<i64>,
    pub builds_dir: Option<String>,
    pub cache_dir: Option<String>,
    pub pre_get_sources_script: Option<String>,
    pub post_get_sources_script: Option<String>,
    pub pre_build_script: Option<String>,
    pub post_build_script: Option<String>,
    #[serde(default, deserialize_with = "blocks")]
    pub kubernetes: Vec<KubernetesModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub cache: Vec<CacheModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesModel {
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub privileged: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
    pub allowed_images: Option<Vec<String>>,
    pub allowed_services: Option<Vec<String>>,
    pub pull_policy: Option<Vec<String>>,
    pub allowed_pull_policies: Option<Vec<String>>,
    pub service_account: Option<String>,
    pub image_pull_secrets: Option<Vec<String>>,
    pub helper_image: Option<String>,
    pub poll_interval: Option<i64>,
    pub poll_timeout: Option<i64>,
    pub pod_termination_grace_period_seconds: Option<i64>,
    pub priority_class_name: Option<String>,
    pub scheduler_name: Option<String>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub node_tolerations: Option<BTreeMap<String, String>>,
    pub pod_labels: Option<BTreeMap<String, String>>,
    pub pod_annotations: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "blocks")]
    pub empty_dir_volume: Vec<EmptyDirModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub host_path_volume: Vec<HostPathModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub pvc_volume: Vec<PvcModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub config_map_volume: Vec<ItemsVolumeModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub secret_volume: Vec<ItemsVolumeModel>,
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
    pub ephemeral_storage_request: Option<String>,
    pub ephemeral_storage_limit: Option<String>,
    pub helper_cpu_request: Option<String>,
    pub helper_cpu_limit: Option<String>,
    pub helper_memory_request: Option<String>,
    pub helper_memory_limit: Option<String>,
    pub helper_ephemeral_storage_request: Option<String>,
    pub helper_ephemeral_storage_limit: Option<String>,
    pub service_cpu_request: Option<String>,
    pub service_cpu_limit: Option<String>,
    pub service_memory_request: Option<String>,
    pub service_memory_limit: Option<String>,
    pub service_ephemeral_storage_request: Option<String>,
    pub service_ephemeral_storage_limit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyDirModel {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub medium: Option<String>,
    pub size_limit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPathModel {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub host_path: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PvcModel {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsVolumeModel {
    pub name: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: Option<bool>,
    pub items: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheModel {
    #[serde(rename = "type")]
    pub cache_type: Option<String>,
    pub path: Option<String>,
    pub shared: Option<bool>,
    pub secret_name: Option<String>,
    pub max_uploaded_archive_size: Option<i64>,
    #[serde(default, deserialize_with = "blocks")]
    pub s3: Vec<S3Model>,
    #[serde(default, deserialize_with = "blocks")]
    pub gcs: Vec<GcsModel>,
    #[serde(default, deserialize_with = "blocks")]
    pub azure: Vec<AzureModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Model {
    pub server_address: Option<String>,
    pub bucket_name: String,
    pub bucket_location: Option<String>,
    pub insecure: Option<bool>,
    pub authentication_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsModel {
    pub bucket_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureModel {
    pub container_name: String,
    pub storage_domain: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::Value;

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "blocks")]
        azure: Vec<AzureModel>,
    }

    fn azure(name: &str) -> Value {
        Value::object([
            ("container_name", Value::from(name)),
            ("storage_domain", Value::Null),
        ])
    }

    fn read(azure: Value) -> Result<Vec<String>, String> {
        tfplugin::model::from_value::<Holder>(Value::object([("azure", azure)]))
            .map(|holder| holder.azure.into_iter().map(|a| a.container_name).collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn a_block_reads_from_null_one_object_or_a_list() {
        assert_eq!(read(Value::Null), Ok(vec![]));
        assert_eq!(read(azure("one")), Ok(vec!["one".to_owned()]));
        assert_eq!(
            read(Value::List(vec![azure("a"), azure("b")])),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(read(Value::List(vec![])), Ok(vec![]));
        let json: Holder =
            serde_json::from_value(serde_json::json!({"azure": {"container_name": "j"}})).unwrap();
        assert_eq!(json.azure[0].container_name, "j");
    }

    #[test]
    fn a_bad_block_says_where_and_what() {
        let error = read(Value::List(vec![Value::object([(
            "container_name",
            Value::from(true),
        )])]))
        .unwrap_err();
        assert!(error.contains("azure"), "{error}");
        assert!(error.contains("container_name"), "{error}");
        assert!(
            read(Value::from("text"))
                .unwrap_err()
                .contains("null, an object or a list of objects")
        );
    }
}
