//! The resource's configuration inputs and stored state, and how state is refreshed from the
//! live Secret.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tfplugin::TfValue;
use tfplugin::timeouts::Timeouts;

use super::token::{CHART_KEYS, REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY};
use crate::kube::ObjectId;
use crate::resources::digest::{combined_digest, key_digests};
use crate::resources::secret_resource::SecretState;

/// The configuration's inputs at apply time (all known). Holds the token: no `Debug`.
#[derive(Deserialize)]
pub struct Inputs {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) labels: Option<BTreeMap<String, String>>,
    pub(super) annotations: Option<BTreeMap<String, String>>,
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
    timeouts: Option<Timeouts>,
    // Computed attributes may still be unknown in the plan; they are recomputed from the live
    // Secret, so their planned values are only skipped over here.
    #[serde(rename = "id")]
    _id: TfValue<IgnoredAny>,
    #[serde(rename = "uid")]
    _uid: TfValue<IgnoredAny>,
    #[serde(rename = "token_digest")]
    _token_digest: TfValue<IgnoredAny>,
    #[serde(rename = "key_digests")]
    _key_digests: TfValue<IgnoredAny>,
}

/// Stored state. Holds the token when `runner_token`/`registration_token` is used: no `Debug`.
#[derive(Serialize, Deserialize, Default)]
pub struct State {
    id: String,
    namespace: String,
    name: String,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    runner_token: Option<String>,
    runner_token_wo_version: Option<i64>,
    registration_token: Option<String>,
    uid: Option<String>,
    token_digest: Option<String>,
    key_digests: Option<BTreeMap<String, String>>,
    timeouts: Option<Timeouts>,
}

impl State {
    pub(super) fn from_inputs(inputs: Inputs) -> State {
        let id = ObjectId::new(&inputs.namespace, &inputs.name).to_string();
        State {
            id,
            namespace: inputs.namespace,
            name: inputs.name,
            labels: inputs.labels,
            annotations: inputs.annotations,
            runner_token: inputs.runner_token,
            runner_token_wo_version: inputs.runner_token_wo_version,
            registration_token: inputs.registration_token,
            timeouts: inputs.timeouts,
            ..State::default()
        }
    }
}

impl SecretState for State {
    fn refresh(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        self.token_digest = Some(combined_digest(data, &CHART_KEYS));
        self.key_digests = Some(key_digests(data));
    }

    /// The token attribute the live Secret implies (runner token first).
    fn adopt(&mut self, data: &BTreeMap<String, Vec<u8>>) {
        let text = |key: &str| {
            data.get(key)
                .filter(|v| !v.is_empty())
                .and_then(|v| String::from_utf8(v.clone()).ok())
        };
        if let Some(t) = text(RUNNER_TOKEN_KEY) {
            self.runner_token = Some(t);
        } else if let Some(t) = text(REGISTRATION_TOKEN_KEY) {
            self.registration_token = Some(t);
        }
    }
}
