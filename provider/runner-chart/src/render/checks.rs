//! Checks on typed runner settings before rendering: what TOML kinds cannot express (empty names,
//! relative mount paths, duplicate volumes, malformed quantities).

use std::collections::BTreeMap;

use super::model::{CacheBackend, ContainerResources, RunnerConfigInput};
use crate::finding::{ConfigPath, Finding, Rule};

/// Every problem in `input`, as errors with TOML paths.
pub(crate) fn check_input(input: &RunnerConfigInput) -> Vec<Finding> {
    let runner = ConfigPath::root().key("runners").index(0);
    let mut findings = Vec::new();
    let mut invalid = |path: ConfigPath, detail: String| {
        findings.push(Finding::error(
            Rule::InvalidInput,
            path,
            "Invalid Runner Setting",
            detail,
        ));
    };

    if input
        .name
        .as_deref()
        .is_some_and(|name| name.trim().is_empty())
    {
        invalid(
            runner.key("name"),
            "The runner name must not be empty.".to_owned(),
        );
    }
    if input.request_concurrency == Some(0) {
        invalid(
            runner.key("request_concurrency"),
            "request_concurrency must be at least 1.".to_owned(),
        );
    }
    for name in input.environment.keys() {
        if name.is_empty() || name.contains('=') {
            invalid(
                runner.key("environment"),
                "Environment variable names must be non-empty and must not contain `=`.".to_owned(),
            );
        }
    }

    let kubernetes = runner.key("kubernetes");
    for (prefix, resources) in [
        ("", &input.kubernetes.build_resources),
        ("service_", &input.kubernetes.service_resources),
        ("helper_", &input.kubernetes.helper_resources),
    ] {
        check_resources(prefix, resources, &kubernetes, &mut invalid);
    }
    for key in input.kubernetes.node_tolerations.keys() {
        if key.trim().is_empty() {
            invalid(
                kubernetes.key("node_tolerations"),
                "Toleration keys must not be empty; write them as \"key=value\" or \"key\"."
                    .to_owned(),
            );
        }
    }

    check_volumes(input, &kubernetes.key("volumes"), &mut invalid);

    if let Some(cache) = &input.cache {
        let cache_path = runner.key("cache");
        let (table, key, value) = match &cache.backend {
            CacheBackend::S3(s3) => ("s3", "BucketName", &s3.bucket_name),
            CacheBackend::Gcs(gcs) => ("gcs", "BucketName", &gcs.bucket_name),
            CacheBackend::Azure(azure) => ("azure", "ContainerName", &azure.container_name),
        };
        if value.trim().is_empty() {
            invalid(
                cache_path.key(table).key(key),
                format!("The {table} cache needs a non-empty {key}."),
            );
        }
    }
    findings
}

fn check_resources(
    prefix: &str,
    resources: &ContainerResources,
    kubernetes: &ConfigPath,
    invalid: &mut impl FnMut(ConfigPath, String),
) {
    for (suffix, value) in resources.entries() {
        let Some(value) = value else { continue };
        if !is_quantity(value) {
            let key = format!("{prefix}{suffix}");
            invalid(
                kubernetes.key(key.as_str()),
                format!(
                    "`{key}` must be a Kubernetes quantity such as \"500m\", \"2\" or \"1Gi\"."
                ),
            );
        }
    }
}

fn check_volumes(
    input: &RunnerConfigInput,
    volumes: &ConfigPath,
    invalid: &mut impl FnMut(ConfigPath, String),
) {
    let all = &input.kubernetes.volumes;
    let entries = all
        .empty_dir
        .iter()
        .map(|v| ("empty_dir", &v.name, &v.mount_path, v.size_limit.as_deref()))
        .chain(
            all.host_path
                .iter()
                .map(|v| ("host_path", &v.name, &v.mount_path, None)),
        )
        .chain(
            all.pvc
                .iter()
                .map(|v| ("pvc", &v.name, &v.mount_path, None)),
        )
        .chain(
            all.config_map
                .iter()
                .map(|v| ("config_map", &v.name, &v.mount_path, None)),
        )
        .chain(
            all.secret
                .iter()
                .map(|v| ("secret", &v.name, &v.mount_path, None)),
        );
    let mut indexes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut names: BTreeMap<&str, String> = BTreeMap::new();
    let mut mount_paths: BTreeMap<&str, String> = BTreeMap::new();
    for (kind, name, mount_path, size_limit) in entries {
        let index = indexes.entry(kind).or_default();
        let path = volumes.key(kind).index(*index);
        *index += 1;
        if name.trim().is_empty() {
            invalid(
                path.key("name"),
                "A volume needs a non-empty name.".to_owned(),
            );
        } else if let Some(first) = names.insert(name, path.to_string()) {
            invalid(
                path.key("name"),
                format!(
                    "Volume names must be unique across all volume kinds; `{name}` is also used at {first}."
                ),
            );
        }
        if !mount_path.starts_with('/') {
            invalid(
                path.key("mount_path"),
                "A volume's mount_path must be an absolute path.".to_owned(),
            );
        } else if let Some(first) = mount_paths.insert(mount_path, path.to_string()) {
            invalid(
                path.key("mount_path"),
                format!(
                    "Two volumes cannot be mounted at the same path; `{mount_path}` is also used at {first}."
                ),
            );
        }
        if size_limit.is_some_and(|limit| !is_quantity(limit)) {
            invalid(
                path.key("size_limit"),
                "size_limit must be a Kubernetes quantity such as \"1Gi\".".to_owned(),
            );
        }
    }
}

/// A Kubernetes resource quantity: a decimal number with an optional binary (`Ki`…`Ei`) or decimal
/// (`n`, `u`, `m`, `k`, `M`…`E`) suffix, or a decimal exponent (`1e3`).
pub(crate) fn is_quantity(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let suffix_ok = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|exponent| exponent.strip_prefix(['+', '-']).unwrap_or(exponent))
        .is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()));
    number_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::is_quantity;

    #[test]
    fn quantities_follow_kubernetes_syntax() {
        for valid in [
            "1", "500m", "0.5", "1Gi", "128Mi", "2k", "1e3", "+1", "1.5G",
        ] {
            assert!(is_quantity(valid), "{valid}");
        }
        for invalid in ["", "1 Gi", "1GB", "one", "1gi", ".", "1e", "Mi"] {
            assert!(!is_quantity(invalid), "{invalid}");
        }
    }
}
