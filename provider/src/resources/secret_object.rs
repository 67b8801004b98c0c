//! The Secret a resource wants, and what it reads back from the live one.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::placement::{is_tracked_annotation, tracked_annotations, tracked_labels};
use crate::kube::ownership::with_managed_by;
use crate::kube::{MANAGED_BY_LABEL, Pruning};

/// The Secret as the configuration describes it. Holds secret values: no `Debug`.
pub struct DesiredSecret {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
}

impl DesiredSecret {
    /// The object to apply: our labels plus the managed-by label. The type is left to the
    /// server (`Opaque` for a new Secret; an imported Secret keeps its own).
    pub fn to_object(&self) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(with_managed_by(&self.labels)),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                ..ObjectMeta::default()
            },
            data: Some(
                self.data
                    .iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    /// Labels, annotations and data keys on `live` that the configuration does not have.
    pub fn pruning(&self, live: &Secret) -> Pruning {
        let extra = |live: Option<&BTreeMap<String, String>>,
                     wanted: &BTreeMap<String, String>,
                     keep: &dyn Fn(&str) -> bool|
         -> Vec<String> {
            live.into_iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| !wanted.contains_key(*k) && keep(k))
                .cloned()
                .collect()
        };
        let data_keys: Vec<String> = live_data(live)
            .into_keys()
            .filter(|k| !self.data.contains_key(k))
            .collect();
        Pruning {
            labels: extra(live.metadata.labels.as_ref(), &self.labels, &|k| {
                k != MANAGED_BY_LABEL
            }),
            annotations: extra(
                live.metadata.annotations.as_ref(),
                &self.annotations,
                &is_tracked_annotation,
            ),
            fields: BTreeMap::from([("data".to_owned(), data_keys)]),
        }
    }
}

/// The live Secret's data (`stringData` is write-only and never returned).
pub fn live_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// What every secret resource refreshes from the live object.
pub struct LiveMetadata {
    pub uid: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl LiveMetadata {
    /// `prior_*` decide whether an empty map reads as absent (see [`tracked_labels`]).
    pub fn of(
        secret: &Secret,
        prior_labels: Option<&BTreeMap<String, String>>,
        prior_annotations: Option<&BTreeMap<String, String>>,
    ) -> LiveMetadata {
        LiveMetadata {
            uid: secret.metadata.uid.clone(),
            labels: tracked_labels(secret.metadata.labels.as_ref(), prior_labels),
            annotations: tracked_annotations(
                secret.metadata.annotations.as_ref(),
                prior_annotations,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredSecret {
        DesiredSecret {
            namespace: "ns".into(),
            name: "s".into(),
            labels: BTreeMap::from([("team".into(), "ci".into())]),
            annotations: BTreeMap::new(),
            data: BTreeMap::from([("a".into(), b"1".to_vec())]),
        }
    }

    #[test]
    fn the_object_carries_the_managed_by_label_and_the_data() {
        let s = desired().to_object();
        let labels = s.metadata.labels.unwrap();
        assert_eq!(labels[MANAGED_BY_LABEL], crate::kube::MANAGED_BY_VALUE);
        assert_eq!(labels["team"], "ci");
        assert_eq!(s.data.unwrap()["a"].0, b"1");
        assert!(s.metadata.annotations.is_none());
    }

    #[test]
    fn pruning_lists_only_keys_added_outside_terraform() {
        let mut live = desired().to_object();
        live.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("extra".into(), "x".into());
        live.metadata.annotations = Some(BTreeMap::from([
            (
                "kubectl.kubernetes.io/last-applied-configuration".into(),
                "{}".into(),
            ),
            ("note".into(), "n".into()),
        ]));
        live.data
            .as_mut()
            .unwrap()
            .insert("b".into(), ByteString(b"2".to_vec()));
        let p = desired().pruning(&live);
        assert_eq!(p.labels, vec!["extra".to_owned()]);
        assert_eq!(p.annotations, vec!["note".to_owned()]);
        assert_eq!(p.fields["data"], vec!["b".to_owned()]);
        assert!(desired().pruning(&desired().to_object()).is_empty());
    }
}
