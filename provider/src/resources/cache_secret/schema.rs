//! The resource's schema.

use tfplugin::{Attribute, Schema, Type, validators};

use super::credentials::{BACKEND, Backend, CREDENTIALS, CREDENTIALS_WO_VERSION};
use crate::resources::placement;

/// The resource description: what it is, and the key-name table (from [`CREDENTIALS`]).
fn resource_description() -> String {
    let mut text = String::from(
        "The Kubernetes Secret with the cache credentials the gitlab-runner chart reads from `runners.cache.secretName` (the release's `runner { cache { secret_name } }`), under the key names the chart expects for the backend. The credentials are write-only: they never enter plan or state; plans show which key changed, was deleted or added by hand through `key_digests`, and apply repairs it. Pass `credentials_digest` to the release's `secret_digests` so a rotation rolls the runner manager in the same apply.\n\n| `backend` | attribute | Secret key (chart 0.86.0) |\n|---|---|---|\n",
    );
    for c in &CREDENTIALS {
        text.push_str(&format!(
            "| `{}` | `{}` | `{}` |\n",
            c.backend.name(),
            c.attribute,
            c.key
        ));
    }
    text.push_str("\nGCS takes either `gcs_credentials_json_wo` or `gcs_access_id_wo` with `gcs_private_key_wo`. Plans fail at the attribute when a required credential is missing, one of another backend is set, a key holds whitespace, the service account JSON lacks `client_email` or `private_key`, or a label or annotation repeats a credential.");
    text
}

pub fn schema() -> Schema {
    let mut schema = placement::secret_schema(&resource_description())
        .attribute(
            BACKEND,
            Attribute::string()
                .required()
                .validator(validators::one_of(Backend::NAMES))
                .description("The cache backend: `s3`, `gcs` or `azure` (the release's `runner { cache { type } }`). It decides which credentials are required and the Secret keys they are written to."),
        )
        .attribute(
            CREDENTIALS_WO_VERSION,
            Attribute::int64()
                .optional()
                .description("A number you change whenever a write-only credential changes, to record the rotation in state (the rewrite itself follows from `key_digests`)."),
        )
        .attribute(
            "credentials_digest",
            Attribute::string()
                .computed()
                .description("`sha256:…` over every key of the live Secret (length-prefixed, in key order). Pass it to the release (`secret_digests = { cache = … }`) so a rotated key rolls the runner manager."),
        )
        .attribute(
            "key_digests",
            Attribute::map(Type::String)
                .computed()
                .description("`sha256:…` of each key of the live Secret; a plan shows which key changed, was deleted or added by hand, without showing values."),
        );
    for c in &CREDENTIALS {
        schema = schema.attribute(
            c.attribute,
            Attribute::string()
                .optional()
                .sensitive()
                .write_only()
                .description(description(c.attribute, c.backend.name(), c.key)),
        );
    }
    schema
}

fn description(attribute: &str, backend: &str, key: &str) -> String {
    let what = match attribute {
        super::credentials::S3_ACCESS_KEY_WO => "S3 access key ID",
        super::credentials::S3_SECRET_KEY_WO => "S3 secret access key",
        super::credentials::GCS_CREDENTIALS_JSON_WO => {
            "Google service account key file (JSON with `client_email` and `private_key`), e.g. `file(\"sa.json\")`; or set `gcs_access_id_wo` with `gcs_private_key_wo` instead"
        }
        super::credentials::GCS_ACCESS_ID_WO => "GCS access ID (the service account's email)",
        super::credentials::GCS_PRIVATE_KEY_WO => "GCS private key (PEM)",
        super::credentials::AZURE_ACCOUNT_NAME_WO => "Azure storage account name",
        _ => "Azure storage account key",
    };
    format!(
        "Write-only (Terraform 1.11+): {what}, for backend `{backend}`; written to the Secret key `{key}`. Never stored in plan or state."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_sound_and_every_credential_is_write_only() {
        let s = schema();
        assert!(s.check().is_empty(), "{:?}", s.check());
        for c in &CREDENTIALS {
            let a = &s.block.attributes[c.attribute];
            assert!(a.write_only && a.sensitive, "{}", c.attribute);
        }
        let stored: Vec<&String> = s
            .block
            .attributes
            .iter()
            .filter(|(_, a)| !a.write_only)
            .map(|(n, _)| n)
            .collect();
        for name in stored {
            assert!(
                !CREDENTIALS.iter().any(|c| c.attribute == name),
                "{name} holds a credential but is stored"
            );
        }
    }
}
