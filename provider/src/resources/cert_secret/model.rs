//! The resource's configuration inputs and stored state, and how state is refreshed from the
//! live Secret.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DEFAULT_EXPIRY_WARNING_DAYS;
use crate::certificates::{CertificateInfo, parse_chain, rfc3339};
use crate::resources::digest::{all_keys_digest, key_digests};
use crate::resources::secret_resource::SecretState;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSecret {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) key: String,
}

/// This resource's inputs at apply time (see [`known_inputs`]).
///
/// [`known_inputs`]: crate::resources::secret_resource::known_inputs
#[derive(Deserialize)]
pub struct Inputs {
    pub(super) gitlab_url: Option<String>,
    pub(super) gitlab_hostname: Option<String>,
    pub(super) certificate_pem: Option<String>,
    pub(super) source_secret: Option<SourceSecret>,
    pub(super) extra_files: Option<BTreeMap<String, String>>,
    pub(super) expiry_warning_days: Option<i64>,
}

/// This resource's own stored attributes (the lifecycle stores `id`, the placement and `uid`).
#[derive(Serialize, Deserialize, Default)]
pub struct State {
    pub(super) gitlab_url: Option<String>,
    pub(super) gitlab_hostname: Option<String>,
    pub(super) certificate_pem: Option<String>,
    pub(super) source_secret: Option<SourceSecret>,
    pub(super) extra_files: Option<BTreeMap<String, String>>,
    pub(super) expiry_warning_days: Option<i64>,
    pub(super) sha256_fingerprint: Option<String>,
    pub(super) not_after: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) dns_names: Option<Vec<String>>,
    pub(super) file_name: Option<String>,
    pub(super) key_digests: Option<BTreeMap<String, String>>,
    pub(super) certs_digest: Option<String>,
}

impl State {
    pub(super) fn from_inputs(inputs: Inputs, file_name: String) -> State {
        State {
            gitlab_url: inputs.gitlab_url,
            gitlab_hostname: inputs.gitlab_hostname,
            certificate_pem: inputs.certificate_pem,
            source_secret: inputs.source_secret,
            extra_files: inputs.extra_files,
            expiry_warning_days: inputs.expiry_warning_days,
            file_name: Some(file_name),
            ..State::default()
        }
    }

    pub(super) fn set_certificate_facts(&mut self, leaf: Option<&CertificateInfo>) {
        self.sha256_fingerprint = leaf.map(|c| c.sha256_fingerprint.clone());
        self.not_after = leaf.map(|c| rfc3339(c.not_after));
        self.subject = leaf.map(|c| c.subject.clone());
        self.dns_names = leaf.map(|c| c.dns_names.clone());
    }
}

impl SecretState for State {
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        self.key_digests = Some(key_digests(data));
        self.certs_digest = Some(all_keys_digest(data));
        let leaf = self
            .file_name
            .as_ref()
            .and_then(|f| data.get(f))
            .and_then(|pem| parse_chain(pem).ok())
            .and_then(|chain| chain.into_iter().next());
        self.set_certificate_facts(leaf.as_ref());
    }

    /// The inputs the live Secret implies (host from the first `*.crt` key).
    fn adopt(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        let Some(file) = data.keys().find(|k| k.ends_with(".crt")).cloned() else {
            return;
        };
        let text = |v: &Vec<u8>| String::from_utf8(v.clone()).ok();
        self.gitlab_hostname = Some(file.trim_end_matches(".crt").to_owned());
        self.certificate_pem = data.get(&file).and_then(text);
        let extra: BTreeMap<String, String> = data
            .iter()
            .filter(|(k, _)| **k != file)
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect();
        self.extra_files = (!extra.is_empty()).then_some(extra);
        self.file_name = Some(file);
        self.expiry_warning_days
            .get_or_insert(DEFAULT_EXPIRY_WARNING_DAYS);
    }
}
