//! Renders typed runner settings to `runners.config` TOML: one `[[runners]]` table, keys in a fixed
//! order, nested tables indented the way GitLab's documentation writes them, volumes as arrays of tables.
//! The output is checked with the same validator users' raw TOML goes through. Literal `{{` in values is
//! escaped for Helm's `tpl`.

mod checks;
pub mod model;

use std::collections::BTreeMap;

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::finding::{Finding, has_errors};
use crate::validate::validate_runner_config;
use model::{
    CacheBackend, CacheConfig, KubernetesConfig, ProjectedVolume, RunnerConfigInput, Volumes,
};

/// Rendered TOML plus the warnings it drew (for example privileged jobs without `allowed_images`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConfig {
    pub toml: String,
    pub warnings: Vec<Finding>,
}

/// Renders `input` to `runners.config` TOML. Errors (invalid settings) are returned as findings; the
/// warnings the validator has about the result come back with the text.
pub fn render(input: &RunnerConfigInput) -> Result<RenderedConfig, Vec<Finding>> {
    let errors = checks::check_input(input);
    if !errors.is_empty() {
        return Err(errors);
    }
    let toml = to_toml(input);
    let findings = validate_runner_config(&toml);
    if has_errors(&findings) {
        return Err(findings.into_iter().filter(Finding::is_error).collect());
    }
    Ok(RenderedConfig {
        toml,
        warnings: findings,
    })
}

/// [`render`] for callers that only take text or errors (a Terraform provider function): warnings are
/// dropped, errors returned.
pub fn render_runner_config(input: &RunnerConfigInput) -> Result<String, Vec<Finding>> {
    render(input).map(|rendered| rendered.toml)
}

fn to_toml(input: &RunnerConfigInput) -> String {
    let mut runners = ArrayOfTables::new();
    runners.push(runner_table(input));
    let mut document = DocumentMut::new();
    document.insert("runners", Item::ArrayOfTables(runners));
    indent_tables(document.as_table_mut(), 0);
    // The first table's separating blank line would open the document.
    escape_for_tpl(document.to_string().trim_start())
}

/// The chart passes `runners.config` through Helm's `tpl`, so a literal `{{` in a typed value would be
/// read as the start of a template action (breaking the release, or worse, evaluating user text).
/// Each `{{` is written as the template action "{{`{{`}}", which renders back to `{{`.
fn escape_for_tpl(text: &str) -> String {
    text.replace("{{", "{{`{{`}}")
}

fn set_str(table: &mut Table, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        table.insert(key, toml_edit::value(value));
    }
}

fn set_bool(table: &mut Table, key: &str, value: Option<bool>) {
    if let Some(value) = value {
        table.insert(key, toml_edit::value(value));
    }
}

fn set_int(table: &mut Table, key: &str, value: Option<impl Into<i64>>) {
    if let Some(value) = value {
        table.insert(key, toml_edit::value(value.into()));
    }
}

fn set_strings<'a>(table: &mut Table, key: &str, values: impl IntoIterator<Item = &'a str>) {
    let array: Array = values.into_iter().collect();
    if !array.is_empty() {
        table.insert(key, toml_edit::value(array));
    }
}

fn set_string_map(table: &mut Table, key: &str, map: &BTreeMap<String, String>) {
    if map.is_empty() {
        return;
    }
    let mut sub = Table::new();
    for (name, value) in map {
        sub.insert(name, toml_edit::value(value.as_str()));
    }
    table.insert(key, Item::Table(sub));
}

fn runner_table(input: &RunnerConfigInput) -> Table {
    let mut runner = Table::new();
    set_str(&mut runner, "name", input.name.as_deref());
    set_str(&mut runner, "url", input.url.as_deref());
    set_str(&mut runner, "clone_url", input.clone_url.as_deref());
    set_str(
        &mut runner,
        "executor",
        Some(input.executor.as_deref().unwrap_or("kubernetes")),
    );
    set_int(&mut runner, "limit", input.limit);
    set_int(&mut runner, "output_limit", input.output_limit);
    set_int(
        &mut runner,
        "request_concurrency",
        input.request_concurrency,
    );
    set_str(&mut runner, "builds_dir", input.builds_dir.as_deref());
    set_str(&mut runner, "cache_dir", input.cache_dir.as_deref());
    let environment: Vec<String> = input
        .environment
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    set_strings(
        &mut runner,
        "environment",
        environment.iter().map(String::as_str),
    );
    set_str(
        &mut runner,
        "pre_get_sources_script",
        input.pre_get_sources_script.as_deref(),
    );
    set_str(
        &mut runner,
        "post_get_sources_script",
        input.post_get_sources_script.as_deref(),
    );
    set_str(
        &mut runner,
        "pre_build_script",
        input.pre_build_script.as_deref(),
    );
    set_str(
        &mut runner,
        "post_build_script",
        input.post_build_script.as_deref(),
    );
    if !input.feature_flags.is_empty() {
        let mut flags = Table::new();
        for (name, enabled) in &input.feature_flags {
            flags.insert(name, toml_edit::value(*enabled));
        }
        runner.insert("feature_flags", Item::Table(flags));
    }
    let mut kubernetes = kubernetes_table(&input.kubernetes);
    if !kubernetes.is_empty() {
        // A header with nothing under it but sub-tables is noise.
        let only_tables = kubernetes.iter().all(|(_, item)| !item.is_value());
        kubernetes.set_implicit(only_tables);
        runner.insert("kubernetes", Item::Table(kubernetes));
    }
    if let Some(cache) = &input.cache {
        runner.insert("cache", Item::Table(cache_table(cache)));
    }
    runner
}

fn kubernetes_table(kubernetes: &KubernetesConfig) -> Table {
    let mut table = Table::new();
    set_str(&mut table, "image", kubernetes.image.as_deref());
    set_str(&mut table, "namespace", kubernetes.namespace.as_deref());
    set_bool(&mut table, "privileged", kubernetes.privileged);
    set_bool(
        &mut table,
        "allow_privilege_escalation",
        kubernetes.allow_privilege_escalation,
    );
    set_strings(
        &mut table,
        "allowed_images",
        kubernetes.allowed_images.iter().map(String::as_str),
    );
    set_strings(
        &mut table,
        "allowed_services",
        kubernetes.allowed_services.iter().map(String::as_str),
    );
    set_strings(
        &mut table,
        "allowed_pull_policies",
        kubernetes
            .allowed_pull_policies
            .iter()
            .map(|policy| policy.as_str()),
    );
    match kubernetes.pull_policy.as_slice() {
        [] => {}
        [single] => set_str(&mut table, "pull_policy", Some(single.as_str())),
        several => set_strings(
            &mut table,
            "pull_policy",
            several.iter().map(|policy| policy.as_str()),
        ),
    }
    set_str(
        &mut table,
        "service_account",
        kubernetes.service_account.as_deref(),
    );
    set_strings(
        &mut table,
        "image_pull_secrets",
        kubernetes.image_pull_secrets.iter().map(String::as_str),
    );
    set_str(
        &mut table,
        "helper_image",
        kubernetes.helper_image.as_deref(),
    );
    for (prefix, resources) in [
        ("", &kubernetes.build_resources),
        ("service_", &kubernetes.service_resources),
        ("helper_", &kubernetes.helper_resources),
    ] {
        for (suffix, value) in resources.entries() {
            set_str(&mut table, &format!("{prefix}{suffix}"), value);
        }
    }
    set_int(&mut table, "poll_interval", kubernetes.poll_interval);
    set_int(&mut table, "poll_timeout", kubernetes.poll_timeout);
    set_int(
        &mut table,
        "pod_termination_grace_period_seconds",
        kubernetes.pod_termination_grace_period_seconds,
    );
    set_str(
        &mut table,
        "priority_class_name",
        kubernetes.priority_class_name.as_deref(),
    );
    set_str(
        &mut table,
        "scheduler_name",
        kubernetes.scheduler_name.as_deref(),
    );
    set_string_map(&mut table, "node_selector", &kubernetes.node_selector);
    set_string_map(&mut table, "node_tolerations", &kubernetes.node_tolerations);
    set_string_map(&mut table, "pod_labels", &kubernetes.pod_labels);
    set_string_map(&mut table, "pod_annotations", &kubernetes.pod_annotations);
    let volumes = volumes_table(&kubernetes.volumes);
    if !volumes.is_empty() {
        table.insert("volumes", Item::Table(volumes));
    }
    table
}

fn volume_table(name: &str, mount_path: &str, sub_path: Option<&str>) -> Table {
    let mut table = Table::new();
    set_str(&mut table, "name", Some(name));
    set_str(&mut table, "mount_path", Some(mount_path));
    set_str(&mut table, "sub_path", sub_path);
    table
}

fn push_kind(volumes: &mut Table, kind: &str, tables: Vec<Table>) {
    if tables.is_empty() {
        return;
    }
    let mut array = ArrayOfTables::new();
    for table in tables {
        array.push(table);
    }
    volumes.insert(kind, Item::ArrayOfTables(array));
}

fn volumes_table(volumes: &Volumes) -> Table {
    let mut table = Table::new();
    table.set_implicit(true);
    let empty_dirs = volumes
        .empty_dir
        .iter()
        .map(|volume| {
            let mut entry =
                volume_table(&volume.name, &volume.mount_path, volume.sub_path.as_deref());
            if volume.medium == model::EmptyDirMedium::Memory {
                set_str(&mut entry, "medium", Some("Memory"));
            }
            set_str(&mut entry, "size_limit", volume.size_limit.as_deref());
            entry
        })
        .collect();
    push_kind(&mut table, "empty_dir", empty_dirs);
    let host_paths = volumes
        .host_path
        .iter()
        .map(|volume| {
            let mut entry =
                volume_table(&volume.name, &volume.mount_path, volume.sub_path.as_deref());
            set_str(&mut entry, "host_path", volume.host_path.as_deref());
            set_bool(&mut entry, "read_only", volume.read_only);
            entry
        })
        .collect();
    push_kind(&mut table, "host_path", host_paths);
    let pvcs = volumes
        .pvc
        .iter()
        .map(|volume| {
            let mut entry =
                volume_table(&volume.name, &volume.mount_path, volume.sub_path.as_deref());
            set_bool(&mut entry, "read_only", volume.read_only);
            entry
        })
        .collect();
    push_kind(&mut table, "pvc", pvcs);
    push_kind(
        &mut table,
        "config_map",
        volumes
            .config_map
            .iter()
            .map(projected_volume_table)
            .collect(),
    );
    push_kind(
        &mut table,
        "secret",
        volumes.secret.iter().map(projected_volume_table).collect(),
    );
    table
}

/// A `config_map` or `secret` volume: mounted from an object's keys, optionally only `items`.
fn projected_volume_table(volume: &ProjectedVolume) -> Table {
    let mut entry = volume_table(&volume.name, &volume.mount_path, volume.sub_path.as_deref());
    set_bool(&mut entry, "read_only", volume.read_only);
    set_string_map(&mut entry, "items", &volume.items);
    entry
}

fn cache_table(cache: &CacheConfig) -> Table {
    let mut table = Table::new();
    set_str(&mut table, "Type", Some(cache.backend.type_name()));
    set_str(&mut table, "Path", cache.path.as_deref());
    set_bool(&mut table, "Shared", cache.shared);
    if let Some(size) = cache.max_uploaded_archive_size {
        // TOML integers are i64; larger sizes are clamped rather than wrapped.
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        table.insert("MaxUploadedArchiveSize", toml_edit::value(size));
    }
    let mut backend = Table::new();
    match &cache.backend {
        CacheBackend::S3(s3) => {
            set_str(&mut backend, "ServerAddress", s3.server_address.as_deref());
            set_str(&mut backend, "BucketName", Some(&s3.bucket_name));
            set_str(
                &mut backend,
                "BucketLocation",
                s3.bucket_location.as_deref(),
            );
            set_bool(&mut backend, "Insecure", s3.insecure);
            set_str(
                &mut backend,
                "AuthenticationType",
                s3.authentication_type.map(|kind| kind.as_str()),
            );
        }
        CacheBackend::Gcs(gcs) => set_str(&mut backend, "BucketName", Some(&gcs.bucket_name)),
        CacheBackend::Azure(azure) => {
            set_str(&mut backend, "ContainerName", Some(&azure.container_name));
            set_str(
                &mut backend,
                "StorageDomain",
                azure.storage_domain.as_deref(),
            );
        }
    }
    table.insert(cache.backend.type_name(), Item::Table(backend));
    table
}

/// Indents keys by two spaces per enclosing (non-implicit) table and separates tables by a blank line.
fn indent_tables(table: &mut Table, depth: usize) {
    let keys_indent = "  ".repeat(depth);
    let header_indent = "  ".repeat(depth.saturating_sub(1));
    if depth > 0 {
        table.decor_mut().set_prefix(format!("\n{header_indent}"));
    }
    let keys: Vec<String> = table.iter().map(|(key, _)| key.to_owned()).collect();
    for key in keys {
        let Some((mut key_mut, item)) = table.get_key_value_mut(&key) else {
            continue;
        };
        match item {
            Item::Value(value) => {
                key_mut.leaf_decor_mut().set_prefix(keys_indent.as_str());
                if let Value::Array(array) = value {
                    array.fmt();
                }
            }
            Item::Table(child) => {
                let child_depth = if child.is_implicit() {
                    depth
                } else {
                    depth + 1
                };
                indent_tables(child, child_depth);
            }
            Item::ArrayOfTables(array) => {
                for child in array.iter_mut() {
                    indent_tables(child, depth + 1);
                }
            }
            Item::None => {}
        }
    }
}
