//! The resource's configuration inputs and stored state, and how state is refreshed from the
//! live Secret. Neither holds a credential: those are write-only and read from the config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::credentials::Backend;
use crate::resources::digest::{all_keys_digest, key_digests};
use crate::resources::secret_resource::SecretState;

/// This resource's inputs at apply time (see [`known_inputs`]); write-only attributes are
/// always null in the plan.
///
/// [`known_inputs`]: crate::resources::secret_resource::known_inputs
#[derive(Deserialize)]
pub struct Inputs {
    backend: String,
    credentials_wo_version: Option<i64>,
}

/// This resource's own stored attributes (the lifecycle stores `id`, the placement and `uid`).
#[derive(Serialize, Deserialize, Default)]
pub struct State {
    backend: Option<String>,
    credentials_wo_version: Option<i64>,
    credentials_digest: Option<String>,
    key_digests: Option<BTreeMap<String, String>>,
}

impl State {
    pub(super) fn from_inputs(inputs: Inputs) -> State {
        State {
            backend: Some(inputs.backend),
            credentials_wo_version: inputs.credentials_wo_version,
            ..State::default()
        }
    }
}

/// The digest over every key of `data` (a key deleted or added by hand changes it).
pub fn credentials_digest<V: AsRef<[u8]>>(data: &BTreeMap<String, V>) -> String {
    all_keys_digest(data)
}

impl SecretState for State {
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        self.credentials_digest = Some(credentials_digest(data));
        self.key_digests = Some(key_digests(data));
    }

    /// The backend whose chart keys the live Secret holds; the credentials stay write-only.
    fn adopt(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        if let Some(backend) = Backend::of_keys(data.keys()) {
            self.backend = Some(backend.name().to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_key_changes_the_digest_and_adoption_finds_the_backend() {
        let full = BTreeMap::from([
            ("accesskey".to_owned(), b"a".to_vec()),
            ("secretkey".to_owned(), b"b".to_vec()),
        ]);
        let mut cut = full.clone();
        cut.remove("secretkey");
        assert_ne!(credentials_digest(&full), credentials_digest(&cut));
        let mut state = State::default();
        state.adopt(&full);
        assert_eq!(state.backend.as_deref(), Some("s3"));
        state.refresh(&full);
        let stored = serde_json::to_string(&state).expect("state");
        assert!(
            !stored.contains("\"a\"") && stored.contains("sha256:"),
            "{stored}"
        );
    }
}
