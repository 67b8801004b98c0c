//! The resource's schema.

use tfplugin::{Attribute, Block, Diagnostics, NestedBlock, Schema, Type, validators};

use super::{
    CERTIFICATE_PEM, DEFAULT_EXPIRY_WARNING_DAYS, EXTRA_FILES, GITLAB_HOSTNAME, GITLAB_URL,
    MAX_EXPIRY_WARNING_DAYS, SOURCE_SECRET, host,
};
use crate::kube::{dns1123_label_validator, dns1123_subdomain_validator};
use crate::resources::placement;

pub fn schema() -> Schema {
    let source = Block::new()
        .description("Copy the certificate from another Secret (e.g. the GitLab chart's `<release>-wildcard-tls-chain`). It is read at every plan, so a changed source shows as an update.")
        .attribute(
            "namespace",
            Attribute::string()
                .required()
                .validator(dns1123_label_validator())
                .description("Namespace of the source Secret."),
        )
        .attribute(
            "name",
            Attribute::string()
                .required()
                .validator(dns1123_subdomain_validator())
                .description("Name of the source Secret."),
        )
        .attribute(
            "key",
            Attribute::string()
                .required()
                .description("Key of the source Secret holding the PEM certificate (chain), e.g. `tls.crt` or `gitlab.example.com.crt`."),
        );
    placement::secret_schema("The Kubernetes Secret with the certificate GitLab Runner trusts for GitLab, named in the gitlab-runner chart's `certsSecretName`. Derives the file name the runner looks for (`<gitlab host>.crt`), checks the certificate at plan time, and warns before it expires.")
        .attribute(
            GITLAB_URL,
            Attribute::string()
                .optional()
                .description("GitLab's URL (e.g. the release's `gitlab_url`); the Secret key is its host name plus `.crt`. Set this or `gitlab_hostname`."),
        )
        .attribute(
            GITLAB_HOSTNAME,
            Attribute::string()
                .optional()
                .description("GitLab's host name, e.g. `gitlab.example.com`, when you do not have the URL at hand. Set this or `gitlab_url`."),
        )
        .attribute(
            CERTIFICATE_PEM,
            Attribute::string()
                .optional()
                .description("PEM certificate chain to trust (server certificate and/or CA certificates). Every block must be an X.509 certificate. Set this or `source_secret`."),
        )
        .attribute(
            EXTRA_FILES,
            Attribute::map(Type::String)
                .optional()
                .validator(validators::from_fn("keys must be Secret keys", |value, path, diagnostics: &mut Diagnostics| {
                    for key in value.as_entries().into_iter().flat_map(|m| m.keys()) {
                        if !host::is_secret_key(key) {
                            diagnostics.attribute_error(
                                path.key(key),
                                "Invalid File Name",
                                format!("{key:?} cannot be a Secret key: use letters, digits, \"-\", \".\" and \"_\" only (at most 253 characters)."),
                            );
                        }
                    }
                }))
                .description("More files for the certs directory, file name → content (e.g. `ca.crt` for a CA the runner passes to jobs)."),
        )
        .attribute(
            "expiry_warning_days",
            Attribute::int64()
                .optional()
                .default(DEFAULT_EXPIRY_WARNING_DAYS)
                .validator(validators::int_between(0, MAX_EXPIRY_WARNING_DAYS))
                .description("Plans warn when a certificate expires within this many days (default 30)."),
        )
        .attribute(
            "sha256_fingerprint",
            Attribute::string().computed().description("SHA-256 fingerprint of the first certificate in the file (colon-separated hex, as openssl prints it)."),
        )
        .attribute(
            "not_after",
            Attribute::string().computed().description("Expiry of the first certificate (RFC 3339, UTC)."),
        )
        .attribute(
            "subject",
            Attribute::string().computed().description("Subject of the first certificate."),
        )
        .attribute(
            "dns_names",
            Attribute::list(Type::String).computed().description("DNS subject alternative names of the first certificate."),
        )
        .attribute(
            "file_name",
            Attribute::string().computed().description("The Secret key holding the certificate: `<gitlab host>.crt`, the file the runner reads."),
        )
        .attribute(
            "key_digests",
            Attribute::map(Type::String).computed().description("`sha256:…` of each key of the live Secret; a plan shows which file changed."),
        )
        .attribute(
            "certs_digest",
            Attribute::string().computed().description("`sha256:…` over every key of the live Secret (length-prefixed, in key order). Pass it to the release (`secret_digests = { certs = … }`) so a renewed certificate (also one copied from `source_secret`) rolls the runner manager, which reads the certificates only when it starts."),
        )
        .block(SOURCE_SECRET, NestedBlock::single(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_sound_and_described() {
        assert!(schema().check().is_empty(), "{:?}", schema().check());
    }
}
