//! The resource's schema.

use tfplugin::plan_modifiers::{RequiresReplace, UseStateForUnknown, requires_replace_if};
use tfplugin::validators::{duration, int_between, one_of, string_length};
use tfplugin::{Attribute, Block, NestedBlock, Schema, Type};

use crate::kube::{dns1123_label_validator, dns1123_subdomain_validator};
use crate::resources::placement;

pub const TYPE_NAME: &str = "gitlabrunner_runner";

/// `runner_type` values.
pub const INSTANCE_TYPE: &str = "instance_type";
pub const GROUP_TYPE: &str = "group_type";
pub const PROJECT_TYPE: &str = "project_type";

/// The GitLab-side settings (`PUT /runners/:id`): optional, and read back from GitLab.
#[cfg(test)]
pub const SETTINGS: [&str; 8] = [
    "description",
    "tag_list",
    "run_untagged",
    "locked",
    "paused",
    "access_level",
    "maximum_timeout",
    "maintenance_note",
];

/// An optional setting whose value, when left out, is GitLab's (read back on refresh).
fn setting(attribute: Attribute, what: &str) -> Attribute {
    attribute
        .optional()
        .computed()
        .plan_modifier(UseStateForUnknown)
        .description(format!(
            "{what} Left out, GitLab's value is kept and shown; set, an edit in the GitLab UI is drift that the next apply reverts (`PUT /runners/:id`, in place)."
        ))
}

fn computed(attribute: Attribute, what: &str) -> Attribute {
    attribute.computed().description(what)
}

fn token_secret_block() -> NestedBlock {
    NestedBlock::list(
        Block::new()
            .description("The Kubernetes Secret this resource writes the runner authentication token into, under both keys the gitlab-runner chart reads (`runner-token`, and `runner-registration-token` empty). Name it in the release's `token_secret_name`. Changing it replaces the runner (the token cannot be copied: it is never kept).")
            .attribute(
                "namespace",
                Attribute::string()
                    .required()
                    .plan_modifier(RequiresReplace)
                    .validator(dns1123_label_validator())
                    .description("Namespace of the Secret; it must exist."),
            )
            .attribute(
                "name",
                Attribute::string()
                    .required()
                    .plan_modifier(RequiresReplace)
                    .validator(dns1123_subdomain_validator())
                    .description("Name of the Secret. An existing Secret not created by this provider is refused."),
            ),
    )
    .min_items(1)
    .max_items(1)
}

pub fn schema() -> Schema {
    Schema::new()
        .description("A GitLab runner (`POST /user/runners`) whose authentication token goes straight into a Kubernetes Secret: the `glrt-` token is never in Terraform state, plan, logs or a variable. State holds the runner id, `token_digest` (reference it from the release to roll the manager when the token changes) and `token_expires_at`. Rotates the token once `token_expires_at` is within `rotate_before`, or when `rotation_trigger` changes. GitLab access is the provider's `gitlab` block (the token needs `create_runner` and `manage_runner`, or `api`).")
        .attribute(
            "id",
            computed(Attribute::string(), "The runner's id in GitLab (as a string; also the first part of the import ID `<id>/<namespace>/<secret>[/<gitlab_url>]`).")
                .plan_modifier(UseStateForUnknown),
        )
        .attribute(
            "runner_id",
            computed(Attribute::int64(), "The runner's id in GitLab; give it to the release's `runner_id` so its drain needs no token lookup.")
                .plan_modifier(UseStateForUnknown),
        )
        .attribute(
            "runner_type",
            Attribute::string()
                .required()
                .plan_modifier(RequiresReplace)
                .validator(one_of([INSTANCE_TYPE, GROUP_TYPE, PROJECT_TYPE]))
                .description("`instance_type` (the token's user must be an administrator), `group_type` with `group_id` (Owner of the group) or `project_type` with `project_id` (Maintainer of the project). Changing it replaces the runner."),
        )
        .attribute(
            "group_id",
            Attribute::int64()
                .optional()
                .plan_modifier(RequiresReplace)
                .validator(int_between(1, i64::MAX))
                .description("The group of a `group_type` runner (only then). Changing it replaces the runner."),
        )
        .attribute(
            "project_id",
            Attribute::int64()
                .optional()
                .plan_modifier(RequiresReplace)
                .validator(int_between(1, i64::MAX))
                .description("The project of a `project_type` runner (only then). Changing it replaces the runner."),
        )
        .attribute(
            "gitlab_url",
            Attribute::string()
                .optional()
                .plan_modifier(requires_replace_if(
                    "another GitLab holds another runner (setting it after an import without one does not replace)",
                    |state, _plan| !state.is_null(),
                ))
                .description("The GitLab the runner belongs to, e.g. `https://gitlab.example.com` (the release's `gitlab_url`). The provider's `gitlab.base_url` must be on its host unless `allow_different_host` — the same rule as the drain's. Left out: `gitlab.base_url`, else `CI_SERVER_URL` in a GitLab CI job."),
        )
        .attribute("description", setting(Attribute::string(), "The runner's description."))
        .attribute("tag_list", setting(Attribute::set(Type::String), "Tags (with `glrt-` tokens the chart's tag settings are ignored: set them here)."))
        .attribute("run_untagged", setting(Attribute::bool(), "Whether the runner picks jobs without tags."))
        .attribute("locked", setting(Attribute::bool(), "Whether a project runner is locked to its projects."))
        .attribute("paused", setting(Attribute::bool(), "Whether the runner is paused."))
        .attribute(
            "access_level",
            setting(Attribute::string(), "`not_protected` or `ref_protected` (jobs of protected refs only).")
                .validator(one_of(["not_protected", "ref_protected"])),
        )
        .attribute(
            "maximum_timeout",
            setting(Attribute::int64(), "Longest job the runner runs, in seconds (at least 600).")
                .validator(int_between(600, i64::MAX)),
        )
        .attribute(
            "maintenance_note",
            setting(Attribute::string(), "Free-form maintenance note (at most 1024 characters).")
                .validator(string_length(0, 1024)),
        )
        .attribute(
            "token_secret_name",
            computed(Attribute::string(), "Name of the token Secret (`token_secret[0].name`), for the release's `token_secret_name`."),
        )
        .attribute(
            "token_digest",
            computed(Attribute::string(), "`sha256:…` over both token keys of the Secret (same scheme as `gitlabrunner_token_secret`). Changes when the token is rotated or re-issued: reference it from the release to roll the manager. Unknown in a plan that will reset the token."),
        )
        .attribute(
            "token_expires_at",
            computed(Attribute::string(), "When the runner authentication token expires (RFC 3339, UTC), null when it does not (GitLab's `runner_token_expiration_interval`)."),
        )
        .attribute(
            "rotate_before",
            Attribute::string()
                .optional()
                .validator(duration())
                .description("Rotate the token once `token_expires_at` is this close, e.g. `\"168h\"`: from then on the plan shows an update (a scheduled `terraform plan -detailed-exitcode` exits 2) and apply resets the token (`POST /runners/:id/reset_authentication_token`), writes it into the Secret and changes `token_digest`. Choose it longer than your plan schedule."),
        )
        .attribute(
            "rotation_trigger",
            Attribute::string()
                .optional()
                .description("Any value; changing it rotates the token on the next apply (e.g. a date, or a counter)."),
        )
        .block("token_secret", token_secret_block())
        .block(tfplugin::timeouts::BLOCK_NAME, placement::timeouts_block())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_sound_and_holds_no_token() {
        let s = schema();
        assert!(s.check().is_empty(), "{:?}", s.check());
        for name in s.block.attributes.keys() {
            assert!(
                !name.contains("token") || name.starts_with("token_"),
                "{name}"
            );
        }
        assert!(!s.block.attributes.contains_key("token"));
        for name in SETTINGS {
            assert!(s.block.attributes[name].optional, "{name}");
        }
    }
}
