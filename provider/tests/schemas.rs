//! Every schema the provider serves is sound: each attribute required, optional and/or computed
//! as Terraform allows, described (docs are generated from the schema), and named with the
//! provider's prefix.

use gitlabrunner::{GitLabRunnerProvider, PROVIDER_TYPE_NAME};
use tfplugin::Provider;

#[test]
fn provider_resource_and_data_source_schemas_are_sound_and_described() {
    let provider = GitLabRunnerProvider::new();
    let mut problems = Vec::new();
    for p in provider.schema().check() {
        problems.push(format!("provider: {p}"));
    }
    let prefix = format!("{PROVIDER_TYPE_NAME}_");
    for resource in provider.resources() {
        let name = resource.type_name();
        if !name.starts_with(&prefix) {
            problems.push(format!("{name}: type name must start with {prefix}"));
        }
        for p in resource.schema().check() {
            problems.push(format!("{name}: {p}"));
        }
    }
    for data_source in provider.data_sources() {
        let name = data_source.type_name();
        if !name.starts_with(&prefix) {
            problems.push(format!("{name}: type name must start with {prefix}"));
        }
        for p in data_source.schema().check() {
            problems.push(format!("{name}: {p}"));
        }
    }
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn type_names_are_unique() {
    let provider = GitLabRunnerProvider::new();
    let mut names: Vec<&str> = provider.resources().iter().map(|r| r.type_name()).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        count,
        "duplicate resource type names: {names:?}"
    );
}
