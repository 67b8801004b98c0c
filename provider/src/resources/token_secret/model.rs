//! The resource's configuration inputs and stored state, and how state is refreshed from the
//! live Secret.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::token::CHART_KEYS;
use crate::resources::digest::{combined_digest, key_digests};
use crate::resources::secret_resource::SecretState;

/// This resource's inputs at apply time (see [`known_inputs`]). Holds the token: no `Debug`.
///
/// [`known_inputs`]: crate::resources::secret_resource::known_inputs
#[derive(Deserialize)]
pub struct Inputs {
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
}

/// This resource's own stored attributes (the lifecycle stores `id`, the placement and `uid`).
/// Holds the token when `runner_token`/`registration_token` is used: no `Debug`.
#[derive(Serialize, Deserialize, Default)]
pub struct State {
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
    token_digest: Option<String>,
    key_digests: Option<BTreeMap<String, String>>,
}

impl State {
    pub(super) fn from_inputs(inputs: Inputs) -> State {
        State {
            runner_token: inputs.runner_token,
            runner_token_wo_version: inputs.runner_token_wo_version,
            registration_token: inputs.registration_token,
            ..State::default()
        }
    }
}

impl SecretState for State {
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        self.token_digest = Some(combined_digest(data, &CHART_KEYS));
        self.key_digests = Some(key_digests(data));
    }

    /// Nothing of the token: an imported Secret is known by its digests alone, so the token
    /// never reaches state (nor a configuration generated from it). The configuration names
    /// the token (`runner_token_wo` keeps it out of state for good); the next apply writes the
    /// same bytes and takes ownership of the Secret (its managed-by label).
    fn adopt(&mut self, _data: &BTreeMap<String, Vec<u8>>) {}
}

#[cfg(test)]
mod tests {
    use super::super::token::{REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY};
    use super::*;

    #[test]
    fn an_adopted_secret_keeps_only_digests_of_its_token() {
        let data = BTreeMap::from([
            (RUNNER_TOKEN_KEY.to_owned(), b"glrt-adopted".to_vec()),
            (REGISTRATION_TOKEN_KEY.to_owned(), Vec::new()),
        ]);
        let mut state = State::default();
        state.adopt(&data);
        state.refresh(&data);
        let stored = serde_json::to_string(&state).unwrap();
        assert!(!stored.contains("glrt-adopted"), "{stored}");
        assert_eq!(
            state.token_digest,
            Some(combined_digest(&data, &CHART_KEYS))
        );
    }
}
