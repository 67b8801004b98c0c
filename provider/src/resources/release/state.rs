//! The release's computed results as one typed value, written into state in one place
//! ([`Results::write`]): field name = attribute name, so a typo is a compile error here and a
//! "not in the schema" error in the unit test, not a silent string in `apply.rs`.

use helm_driver::{ReleaseInspection, ReleaseRecord};
use serde::Serialize;
use tfplugin::{AttributePath, Diagnostic, Diagnostics, Document};

use super::digest;
use super::live;

/// The status recorded for a release helm installed but the provider could not read back.
pub const STATUS_UNKNOWN: &str = "unknown";

/// The results only a helm run decides: unknown in a plan that runs helm, kept otherwise.
pub const DECIDED_BY_HELM: &[&str] = &["revision", "app_version", "manifest_objects"];

/// Computed attributes to write; `None` leaves the attribute as it is (the plan's value, or
/// the prior state's).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Results {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_version: Option<String>,
    /// `Some(None)` writes null (a chart without an appVersion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_config: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drifted_objects: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_objects: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_left_paused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_paused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_managers: Option<i64>,
}

impl Results {
    /// What helm's newest revision `record` says: revision, status, chart and app version, the
    /// digest of its values and its manifest's objects.
    pub fn of_record(record: &ReleaseRecord) -> Results {
        Results::with_objects(
            record,
            live::manifest_objects(&record.manifest, &record.namespace),
        )
    }

    /// [`Results::of_record`] for a refresh: the manifest's objects come from the drift check,
    /// which parsed the manifest already (parsing it twice doubled that part of a refresh).
    pub fn of_inspection(inspection: &ReleaseInspection) -> Results {
        Results::with_objects(
            &inspection.history.latest,
            live::object_ids(inspection.drift.objects.iter().cloned()),
        )
    }

    fn with_objects(record: &ReleaseRecord, manifest_objects: Vec<String>) -> Results {
        Results {
            revision: Some(i64::try_from(record.version).unwrap_or(i64::MAX)),
            status: Some(record.status.as_str().to_owned()),
            chart_version: Some(record.chart_version.clone()),
            app_version: Some(record.app_version.clone()),
            values_digest: Some(digest::values_digest(&record.config)),
            manifest_objects: Some(manifest_objects),
            ..Results::default()
        }
    }

    /// A release helm installed that could not be read back: its `id` and status `unknown`
    /// (the other results stay unknown, i.e. null once the operation fails).
    pub fn unread(namespace: &str, name: &str) -> Results {
        Results {
            id: Some(format!("{namespace}/{name}")),
            status: Some(STATUS_UNKNOWN.to_owned()),
            drifted_objects: Some(Vec::new()),
            ..Results::default()
        }
    }

    /// Writes the set fields into `state`.
    pub fn write(&self, state: &mut Document) -> Result<(), Diagnostics> {
        let serde_json::Value::Object(fields) = serde_json::to_value(self).map_err(|error| {
            Diagnostics::from(Diagnostic::error(
                "Provider Bug: Results Not Serializable",
                format!("{error}."),
            ))
        })?
        else {
            return Ok(());
        };
        for (name, value) in fields {
            state.set_attr(&AttributePath::new(name), &value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tfplugin::Value;

    use super::*;

    fn empty_state() -> Document {
        let ty = super::super::schema::schema().value_type();
        Document::null(Arc::new(ty))
    }

    /// A refresh takes the manifest's objects from the drift check (which parsed the manifest
    /// already) and must list them exactly as an apply does from the record.
    #[test]
    fn a_refresh_lists_the_manifest_objects_as_an_apply_does() {
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n---\n\
            apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: other\n";
        let record = ReleaseRecord {
            name: "runner".into(),
            namespace: "ci".into(),
            version: 3,
            status: helm_driver::ReleaseStatus::Deployed,
            chart_name: "gitlab-runner".into(),
            chart_version: "0.1.0".into(),
            app_version: None,
            config: serde_json::json!({"concurrent": 4}),
            manifest: manifest.into(),
            first_deployed: None,
            last_deployed: None,
            description: None,
            apply_method: None,
        };
        let parsed = helm_driver::parse_manifest(manifest, "ci").unwrap();
        let inspection = ReleaseInspection {
            history: helm_driver::ReleaseHistory {
                latest: record.clone(),
                revisions: Vec::new(),
            },
            drift: helm_driver::DriftReport {
                objects: parsed
                    .iter()
                    .map(helm_driver::drift::ObjectRef::of)
                    .collect(),
                ..Default::default()
            },
            api_requests: 0,
        };
        let refreshed = Results::of_inspection(&inspection);
        assert_eq!(
            refreshed.manifest_objects.as_deref(),
            Some(
                &[
                    "ConfigMap/ci/a".to_owned(),
                    "ClusterRole/r".to_owned(),
                    "Secret/other/s".to_owned()
                ][..]
            )
        );
        assert_eq!(refreshed, Results::of_record(&record));
    }

    #[test]
    fn every_result_is_an_attribute_of_the_schema() {
        let all = Results {
            id: Some("ns/x".into()),
            revision: Some(2),
            status: Some("deployed".into()),
            chart_version: Some("0.1.0".into()),
            app_version: Some(None),
            runner_name: Some("ns-x".into()),
            runner_config: Some("[[runners]]\n".into()),
            values_digest: Some("sha256:00".into()),
            drifted_objects: Some(vec![]),
            manifest_objects: Some(vec!["v1/Secret/x".into()]),
            runner_left_paused: Some(false),
            runner_status: Some("online".into()),
            runner_paused: Some(false),
            online_managers: Some(1),
        };
        let mut state = empty_state();
        all.write(&mut state).unwrap();
        assert_eq!(
            state.attr(&AttributePath::new("revision")),
            Some(&Value::from(2_i64))
        );
        assert_eq!(
            state.attr(&AttributePath::new("app_version")),
            Some(&Value::Null)
        );
    }

    #[test]
    fn what_helm_decides_are_computed_results_of_the_schema() {
        let schema = super::super::schema::schema();
        for name in DECIDED_BY_HELM {
            let attribute = &schema.block.attributes[*name];
            assert!(attribute.computed && !attribute.optional, "{name}");
        }
    }

    #[test]
    fn unset_results_leave_the_state_alone() {
        let mut state = empty_state();
        Results {
            runner_name: Some("kept".into()),
            ..Results::default()
        }
        .write(&mut state)
        .unwrap();
        Results::unread("ns", "x").write(&mut state).unwrap();
        let at = |name: &str| state.attr(&AttributePath::new(name)).cloned();
        assert_eq!(at("runner_name"), Some(Value::from("kept")));
        assert_eq!(at("status"), Some(Value::from(STATUS_UNKNOWN)));
        assert_eq!(at("id"), Some(Value::from("ns/x")));
        assert_eq!(at("revision"), Some(Value::Null));
    }
}
