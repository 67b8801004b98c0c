//! The resource's schema.

use tfplugin::{Attribute, Schema, Type};

use super::token::{
    REGISTRATION_TOKEN, RUNNER_TOKEN, RUNNER_TOKEN_PREFIX, RUNNER_TOKEN_WO, RUNNER_TOKEN_WO_VERSION,
};
use crate::resources::placement;

pub fn schema() -> Schema {
    placement::secret_schema("The Kubernetes Secret holding a GitLab Runner token, named in the gitlab-runner chart's `runners.secret`. Always writes both keys the chart mounts (`runner-token` and `runner-registration-token`, empty when unused), and shows in plans which key changed without showing values.")
        .attribute(
            RUNNER_TOKEN,
            Attribute::string()
                .optional()
                .sensitive()
                .description(format!("The runner authentication token (`{RUNNER_TOKEN_PREFIX}…`) of a runner created in GitLab, e.g. `gitlab_user_runner.x.token`. Stored in state (sensitive); prefer `runner_token_wo`. Set exactly one of `runner_token`, `runner_token_wo`, `registration_token`.")),
        )
        .attribute(
            RUNNER_TOKEN_WO,
            Attribute::string()
                .optional()
                .sensitive()
                .write_only()
                .description("Write-only runner authentication token (Terraform/OpenTofu 1.11+): never stored in plan or state. Changes are detected through `key_digests`; bump `runner_token_wo_version` to make a rotation explicit."),
        )
        .attribute(
            RUNNER_TOKEN_WO_VERSION,
            Attribute::int64()
                .optional()
                .description("A number you change whenever `runner_token_wo` changes, to record the rotation in state."),
        )
        .attribute(
            REGISTRATION_TOKEN,
            Attribute::string()
                .optional()
                .sensitive()
                .deprecated("Runner registration tokens are deprecated since GitLab 15.6, disabled by default since 17.0 and scheduled for removal in 20.0. Create the runner in GitLab instead (UI, the runners API, or gitlab_user_runner in the gitlab provider) and pass its glrt- token as runner_token or runner_token_wo.")
                .description("A runner registration token (`GR1348941…`), written to the `runner-registration-token` key."),
        )
        .attribute(
            "token_digest",
            Attribute::string()
                .computed()
                .description("`sha256:…` over both token keys of the live Secret. Reference it (e.g. as a pod annotation) to roll the runner when the token changes."),
        )
        .attribute(
            "key_digests",
            Attribute::map(Type::String)
                .computed()
                .description("`sha256:…` of each key of the live Secret; a plan shows which key changed without showing values."),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_sound_and_described() {
        let s = schema();
        assert!(s.check().is_empty(), "{:?}", s.check());
        let wo = &s.block.attributes[RUNNER_TOKEN_WO];
        assert!(wo.write_only && wo.sensitive);
        assert!(s.block.attributes[RUNNER_TOKEN].sensitive);
        assert!(
            !s.block.attributes[REGISTRATION_TOKEN]
                .deprecation
                .is_empty()
        );
    }
}
