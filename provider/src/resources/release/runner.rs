//! The `runner` block → the chart crate's typed runner settings ([`RunnerConfigInput`]).
//! Shared by the resource and the `runner_config` provider function.

use std::collections::BTreeMap;

use gitlab_runner_chart::{
    AzureCache, CacheBackend, CacheConfig, ContainerResources, EmptyDirMedium, EmptyDirVolume,
    GcsCache, HostPathVolume, KubernetesConfig, ProjectedVolume, PullPolicy, PvcVolume,
    RunnerConfigInput, S3AuthenticationType, S3Cache, Volumes,
};
use tfplugin::AttributePath;

use super::model::{CacheModel, ItemsVolumeModel, KubernetesModel, RunnerModel};

/// A setting that cannot be turned into runner settings, at a path relative to the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: AttributePath,
    pub detail: String,
}

struct Errors {
    list: Vec<InputError>,
}

impl Errors {
    fn push(&mut self, path: AttributePath, detail: impl Into<String>) {
        self.list.push(InputError {
            path,
            detail: detail.into(),
        });
    }

    fn u32_of(&mut self, value: Option<i64>, name: &str, base: &AttributePath) -> Option<u32> {
        let value = value?;
        match u32::try_from(value) {
            Ok(v) => Some(v),
            Err(_) => {
                self.push(
                    base.attr(name),
                    format!("{name} must be between 0 and {}, got {value}.", u32::MAX),
                );
                None
            }
        }
    }
}

fn list(value: &Option<Vec<String>>) -> Vec<String> {
    value.clone().unwrap_or_default()
}

/// A `config_map_volume` or `secret_volume` block.
fn projected(v: &ItemsVolumeModel) -> ProjectedVolume {
    ProjectedVolume {
        name: v.name.clone(),
        mount_path: v.mount_path.clone(),
        sub_path: v.sub_path.clone(),
        read_only: v.read_only,
        items: map(&v.items),
    }
}

fn map<V: Clone>(value: &Option<BTreeMap<String, V>>) -> BTreeMap<String, V> {
    value.clone().unwrap_or_default()
}

/// Converts the block at `base` (e.g. `runner[0]`), or every problem with it.
pub fn runner_input(
    model: &RunnerModel,
    base: &AttributePath,
) -> Result<RunnerConfigInput, Vec<InputError>> {
    let mut errors = Errors { list: Vec::new() };
    let mut environment = BTreeMap::new();
    for (index, entry) in list(&model.environment).iter().enumerate() {
        match entry.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                environment.insert(name.to_owned(), value.to_owned());
            }
            _ => errors.push(
                base.attr("environment").index(index),
                format!(
                    "Each environment entry is \"NAME=value\"; entry {index} has no name or no '='."
                ),
            ),
        }
    }
    let kubernetes = match model.kubernetes.first() {
        Some(k) => kubernetes(k, &base.attr("kubernetes").index(0), &mut errors),
        None => KubernetesConfig::default(),
    };
    let cache = model
        .cache
        .first()
        .and_then(|c| cache(c, &base.attr("cache").index(0), &mut errors));
    let input = RunnerConfigInput {
        name: None,
        url: model.url.clone(),
        clone_url: model.clone_url.clone(),
        executor: model.executor.clone(),
        limit: errors.u32_of(model.limit, "limit", base),
        output_limit: errors.u32_of(model.output_limit, "output_limit", base),
        request_concurrency: errors.u32_of(model.request_concurrency, "request_concurrency", base),
        builds_dir: model.builds_dir.clone(),
        cache_dir: model.cache_dir.clone(),
        environment,
        pre_get_sources_script: model.pre_get_sources_script.clone(),
        post_get_sources_script: model.post_get_sources_script.clone(),
        pre_build_script: model.pre_build_script.clone(),
        post_build_script: model.post_build_script.clone(),
        feature_flags: map(&model.feature_flags),
        kubernetes,
        cache,
    };
    if errors.list.is_empty() {
        Ok(input)
    } else {
        Err(errors.list)
    }
}

fn pull_policies(
    values: &Option<Vec<String>>,
    path: &AttributePath,
    errors: &mut Errors,
) -> Vec<PullPolicy> {
    let mut out = Vec::new();
    for (index, text) in list(values).iter().enumerate() {
        match PullPolicy::parse(text) {
            Some(policy) => out.push(policy),
            None => errors.push(
                path.index(index),
                format!("Pull policy must be always, if-not-present or never, got {text:?}."),
            ),
        }
    }
    out
}

fn kubernetes(
    model: &KubernetesModel,
    base: &AttributePath,
    errors: &mut Errors,
) -> KubernetesConfig {
    let mut empty_dir = Vec::new();
    for (index, v) in model.empty_dir_volume.iter().enumerate() {
        let medium = match EmptyDirMedium::parse(v.medium.as_deref().unwrap_or("")) {
            Some(medium) => medium,
            None => {
                errors.push(
                    base.attr("empty_dir_volume").index(index).attr("medium"),
                    "medium must be \"Memory\" or unset.",
                );
                EmptyDirMedium::Disk
            }
        };
        empty_dir.push(EmptyDirVolume {
            name: v.name.clone(),
            mount_path: v.mount_path.clone(),
            sub_path: v.sub_path.clone(),
            medium,
            size_limit: v.size_limit.clone(),
        });
    }
    let volumes = Volumes {
        empty_dir,
        host_path: model
            .host_path_volume
            .iter()
            .map(|v| HostPathVolume {
                name: v.name.clone(),
                mount_path: v.mount_path.clone(),
                sub_path: v.sub_path.clone(),
                host_path: v.host_path.clone(),
                read_only: v.read_only,
            })
            .collect(),
        pvc: model
            .pvc_volume
            .iter()
            .map(|v| PvcVolume {
                name: v.name.clone(),
                mount_path: v.mount_path.clone(),
                sub_path: v.sub_path.clone(),
                read_only: v.read_only,
            })
            .collect(),
        config_map: model.config_map_volume.iter().map(projected).collect(),
        secret: model.secret_volume.iter().map(projected).collect(),
    };
    KubernetesConfig {
        image: model.image.clone(),
        namespace: model.namespace.clone(),
        privileged: model.privileged,
        allow_privilege_escalation: model.allow_privilege_escalation,
        allowed_images: list(&model.allowed_images),
        allowed_services: list(&model.allowed_services),
        allowed_pull_policies: pull_policies(
            &model.allowed_pull_policies,
            &base.attr("allowed_pull_policies"),
            errors,
        ),
        pull_policy: pull_policies(&model.pull_policy, &base.attr("pull_policy"), errors),
        service_account: model.service_account.clone(),
        image_pull_secrets: list(&model.image_pull_secrets),
        helper_image: model.helper_image.clone(),
        build_resources: ContainerResources {
            cpu_request: model.cpu_request.clone(),
            cpu_limit: model.cpu_limit.clone(),
            memory_request: model.memory_request.clone(),
            memory_limit: model.memory_limit.clone(),
            ephemeral_storage_request: model.ephemeral_storage_request.clone(),
            ephemeral_storage_limit: model.ephemeral_storage_limit.clone(),
        },
        service_resources: ContainerResources {
            cpu_request: model.service_cpu_request.clone(),
            cpu_limit: model.service_cpu_limit.clone(),
            memory_request: model.service_memory_request.clone(),
            memory_limit: model.service_memory_limit.clone(),
            ephemeral_storage_request: model.service_ephemeral_storage_request.clone(),
            ephemeral_storage_limit: model.service_ephemeral_storage_limit.clone(),
        },
        helper_resources: ContainerResources {
            cpu_request: model.helper_cpu_request.clone(),
            cpu_limit: model.helper_cpu_limit.clone(),
            memory_request: model.helper_memory_request.clone(),
            memory_limit: model.helper_memory_limit.clone(),
            ephemeral_storage_request: model.helper_ephemeral_storage_request.clone(),
            ephemeral_storage_limit: model.helper_ephemeral_storage_limit.clone(),
        },
        poll_interval: errors.u32_of(model.poll_interval, "poll_interval", base),
        poll_timeout: errors.u32_of(model.poll_timeout, "poll_timeout", base),
        pod_termination_grace_period_seconds: errors.u32_of(
            model.pod_termination_grace_period_seconds,
            "pod_termination_grace_period_seconds",
            base,
        ),
        priority_class_name: model.priority_class_name.clone(),
        scheduler_name: model.scheduler_name.clone(),
        node_selector: map(&model.node_selector),
        node_tolerations: map(&model.node_tolerations),
        pod_labels: map(&model.pod_labels),
        pod_annotations: map(&model.pod_annotations),
        volumes,
    }
}

fn cache(model: &CacheModel, base: &AttributePath, errors: &mut Errors) -> Option<CacheConfig> {
    let mut authentication_type = None;
    if let Some(s3) = model.s3.first()
        && let Some(text) = &s3.authentication_type
    {
        authentication_type = S3AuthenticationType::parse(text);
        if authentication_type.is_none() {
            errors.push(
                base.attr("s3").index(0).attr("authentication_type"),
                format!("authentication_type must be access-key or iam, got {text:?}."),
            );
        }
    }
    let backend = CacheBackend::from_blocks(
        model.cache_type.as_deref(),
        model.s3.first().map(|s| S3Cache {
            server_address: s.server_address.clone(),
            bucket_name: s.bucket_name.clone(),
            bucket_location: s.bucket_location.clone(),
            insecure: s.insecure,
            authentication_type,
        }),
        model.gcs.first().map(|g| GcsCache {
            bucket_name: g.bucket_name.clone(),
        }),
        model.azure.first().map(|a| AzureCache {
            container_name: a.container_name.clone(),
            storage_domain: a.storage_domain.clone(),
        }),
    );
    let backend = match backend {
        Ok(backend) => backend,
        Err(finding) => {
            errors.push(base.clone(), finding.detail);
            return None;
        }
    };
    let max_uploaded_archive_size = match model.max_uploaded_archive_size.map(u64::try_from) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            errors.push(
                base.attr("max_uploaded_archive_size"),
                "max_uploaded_archive_size must not be negative.",
            );
            None
        }
    };
    Some(CacheConfig {
        backend,
        path: model.path.clone(),
        shared: model.shared,
        max_uploaded_archive_size,
    })
}
