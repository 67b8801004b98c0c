//! Which objects this provider may change: those carrying its managed-by label.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::KubeError;
use super::identity::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// True when the object carries this provider's managed-by label.
pub fn is_managed(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY_VALUE)
}

/// `labels` plus the managed-by label.
pub fn with_managed_by(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut all = labels.clone();
    all.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    all
}

/// Before creating: an existing object without the label belongs to someone else.
/// `resource_type` is the Terraform type named in the `terraform import` hint.
pub fn check_can_create(
    existing: Option<&ObjectMeta>,
    kind: &str,
    namespace: &str,
    name: &str,
    resource_type: &str,
) -> Result<(), KubeError> {
    match existing {
        Some(meta) if !is_managed(meta) => Err(KubeError::NotOwned {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            resource_type: resource_type.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn only_objects_with_our_label_may_be_taken_over() {
        assert!(check_can_create(None, "Secret", "ns", "n", "t").is_ok());
        assert!(
            check_can_create(
                Some(&meta(&[(MANAGED_BY_LABEL, MANAGED_BY_VALUE)])),
                "Secret",
                "ns",
                "n",
                "t"
            )
            .is_ok()
        );
        assert!(matches!(
            check_can_create(
                Some(&meta(&[(MANAGED_BY_LABEL, "Helm")])),
                "Secret",
                "ns",
                "n",
                "t"
            ),
            Err(KubeError::NotOwned { .. })
        ));
        assert!(check_can_create(Some(&ObjectMeta::default()), "Secret", "ns", "n", "t").is_err());
        assert_eq!(with_managed_by(&BTreeMap::new()).len(), 1);
    }
}
