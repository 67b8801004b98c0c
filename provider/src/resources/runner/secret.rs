//! The token Secret this resource owns: written with server-side apply (field manager
//! `gitlabrunner`, the managed-by label), both chart keys, and read back only to compute
//! `token_digest` or to re-write a token that is still the one GitLab issued. The token never
//! leaves this module except into the Secret and the verify request.

use std::collections::BTreeMap;

use gitlab_runner_api::{ExposeSecret, SecretString};
use k8s_openapi::api::core::v1::Secret;
use tfplugin::Diagnostics;

use super::model::SecretRef;
use crate::kube::ownership::check_can_create;
use crate::kube::{Budget, Objects};
use crate::resources::digest::combined_digest;
use crate::resources::secret_object::{DesiredSecret, live_data};
use crate::resources::token_secret::{CHART_KEYS, REGISTRATION_TOKEN_KEY, RUNNER_TOKEN_KEY};

use super::schema::TYPE_NAME;

/// The Secret data for `token`: the token under `runner-token`, `runner-registration-token`
/// empty (the chart projects both).
fn data_for(token: &SecretString) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        (REGISTRATION_TOKEN_KEY.to_owned(), Vec::new()),
        (
            RUNNER_TOKEN_KEY.to_owned(),
            token.expose_secret().as_bytes().to_vec(),
        ),
    ])
}

/// `token_digest` of a Secret holding `token` (the `gitlabrunner_token_secret` scheme).
#[cfg(test)]
pub fn digest_of_token(token: &SecretString) -> String {
    combined_digest(&data_for(token), &CHART_KEYS)
}

/// `token_digest` of the live Secret's data.
pub fn live_digest(secret: &Secret) -> String {
    combined_digest(&live_data(secret), &CHART_KEYS)
}

/// The runner token in the live Secret, when there is a non-empty one.
pub fn live_token(secret: &Secret) -> Option<SecretString> {
    live_data(secret)
        .remove(RUNNER_TOKEN_KEY)
        .filter(|value| !value.is_empty())
        .and_then(|value| String::from_utf8(value).ok())
        .map(SecretString::from)
}

/// The Secret's API and name.
pub struct TokenSecret {
    objects: Objects<Secret>,
    pub place: SecretRef,
}

impl TokenSecret {
    pub fn new(client: kube::Client, place: SecretRef) -> TokenSecret {
        TokenSecret {
            objects: Objects::new(client, &place.namespace),
            place,
        }
    }

    /// The live Secret, `None` when it is gone.
    pub async fn get(&self, budget: &Budget) -> Result<Option<Secret>, Diagnostics> {
        Ok(self.objects.get(&self.place.name, budget).await?)
    }

    /// Refuses a Secret this provider did not create (before a runner is created for it).
    pub async fn check_can_write(&self, budget: &Budget) -> Result<(), Diagnostics> {
        let existing = self.get(budget).await?;
        check_can_create(
            existing.as_ref().map(|s| &s.metadata),
            "Secret",
            &self.place.namespace,
            &self.place.name,
            TYPE_NAME,
        )?;
        Ok(())
    }

    /// Writes `token` (server-side apply, then removes keys, labels and annotations added by
    /// hand); returns the new `token_digest` from the live Secret.
    pub async fn write(
        &self,
        token: &SecretString,
        budget: &Budget,
    ) -> Result<String, Diagnostics> {
        let desired = DesiredSecret {
            namespace: self.place.namespace.clone(),
            name: self.place.name.clone(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            data: data_for(token),
        };
        let object = desired.to_object();
        let live = self
            .objects
            .apply(&self.place.name, &object, budget)
            .await?;
        let live = self
            .objects
            .prune(
                &self.place.name,
                live.clone(),
                &desired.pruning(&live),
                budget,
            )
            .await?;
        Ok(live_digest(&live))
    }

    /// Deletes the Secret; one already gone is success.
    pub async fn delete(&self, budget: &Budget) -> Result<(), Diagnostics> {
        Ok(self.objects.delete(&self.place.name, budget).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::secret_object::DesiredSecret;

    #[test]
    fn the_digest_matches_the_token_secret_scheme_and_the_live_secret() {
        let token = SecretString::from("glrt-t1_abc".to_owned());
        let desired = DesiredSecret {
            namespace: "ns".into(),
            name: "s".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            data: data_for(&token),
        };
        let live = desired.to_object();
        assert_eq!(live_digest(&live), digest_of_token(&token));
        let expected = BTreeMap::from([
            ("runner-registration-token".to_owned(), b"".to_vec()),
            ("runner-token".to_owned(), b"glrt-t1_abc".to_vec()),
        ]);
        assert_eq!(
            digest_of_token(&token),
            combined_digest(&expected, &CHART_KEYS)
        );
        assert_eq!(
            live_token(&live).map(|t| t.expose_secret().to_owned()),
            Some("glrt-t1_abc".to_owned())
        );
        assert_ne!(
            digest_of_token(&SecretString::from("glrt-other".to_owned())),
            digest_of_token(&token)
        );
    }
}
