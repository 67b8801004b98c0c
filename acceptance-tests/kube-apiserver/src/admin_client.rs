//! A blocking client for the admin surface, for test crates (works with in-process servers and
//! with a `kube-test-server` process alike).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::admin_types::{Fault, RequestRecord};

/// Errors talking to the admin surface.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin request {what} failed")]
    Http {
        what: String,
        source: Box<ureq::Error>,
    },
    #[error("admin request {what} returned an unreadable body")]
    Body {
        what: String,
        source: Box<ureq::Error>,
    },
}

/// Client for the admin listener.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    agent: ureq::Agent,
}

impl AdminClient {
    /// `base` is the admin URL, e.g. `http://127.0.0.1:43128`.
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(true)
            .build()
            .into();
        AdminClient {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        let url = format!("{}{}", self.base, path);
        let what = format!("{method} {path}");
        let http_err = |source| AdminError::Http {
            what: what.clone(),
            source: Box::new(source),
        };
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call().map_err(http_err)?,
            ("DELETE", _) => self.agent.delete(&url).call().map_err(http_err)?,
            (_, b) => self
                .agent
                .post(&url)
                .send_json(b.cloned().unwrap_or_else(|| json!({})))
                .map_err(http_err)?,
        };
        response
            .body_mut()
            .read_json::<Value>()
            .map_err(|source| AdminError::Body {
                what,
                source: Box::new(source),
            })
    }

    /// Injects a fault.
    pub fn inject_fault(&self, fault: &Fault) -> Result<(), AdminError> {
        let body = serde_json::to_value(fault).unwrap_or_default();
        self.send("POST", "/faults", Some(&body)).map(|_| ())
    }

    /// The faults still waiting for matching requests (a fault is gone once its `count`
    /// requests were served, so a test can tell when a request reached it).
    pub fn faults(&self) -> Result<Vec<Fault>, AdminError> {
        let v = self.send("GET", "/faults", None)?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    /// Removes all faults.
    pub fn clear_faults(&self) -> Result<(), AdminError> {
        self.send("DELETE", "/faults", None).map(|_| ())
    }

    /// Creates any served object (namespace in `metadata.namespace`); a pod keeps its `status`.
    pub fn create_object(&self, object: &Value) -> Result<Value, AdminError> {
        self.send("POST", "/objects", Some(object))
    }

    /// Creates a bare pod (e.g. a CI job pod) with labels, in the given phase.
    pub fn create_pod(
        &self,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        phase: &str,
    ) -> Result<Value, AdminError> {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "build", "image": "alpine:3"}]},
        });
        self.create_object(&pod)?;
        self.set_pod_phase(namespace, name, phase)
    }

    /// Moves a pod to `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub fn set_pod_phase(
        &self,
        namespace: &str,
        name: &str,
        phase: &str,
    ) -> Result<Value, AdminError> {
        self.send(
            "POST",
            &format!("/pod-phase/{namespace}/{name}"),
            Some(&json!({"phase": phase})),
        )
    }

    /// Applies a JSON merge patch to the object at `api_path` (e.g.
    /// `/api/v1/namespaces/default/configmaps/x`) as field manager `kubectl-edit`.
    pub fn edit(&self, api_path: &str, merge_patch: &Value) -> Result<Value, AdminError> {
        self.send("POST", &format!("/edit{api_path}"), Some(merge_patch))
    }

    /// Changes the controllers' timing for pods created or deleted from now on
    /// (`None` keeps the current value).
    pub fn set_timing(
        &self,
        ready_delay: Option<std::time::Duration>,
        pod_termination_grace: Option<std::time::Duration>,
    ) -> Result<(), AdminError> {
        let mut body = json!({});
        if let Some(d) = ready_delay {
            body["ready_delay_ms"] = json!(d.as_millis() as u64);
        }
        if let Some(d) = pod_termination_grace {
            body["pod_termination_grace_ms"] = json!(d.as_millis() as u64);
        }
        self.send("POST", "/behaviour", Some(&body)).map(|_| ())
    }

    /// Whether the kubelet checks Secret/ConfigMap volumes (`FailedMount` for a missing one), as
    /// a real kubelet always does; on by default (turn it off only for a test that needs pods to
    /// start without their Secrets).
    pub fn set_check_volumes(&self, check: bool) -> Result<(), AdminError> {
        self.send("POST", "/behaviour", Some(&json!({"check_volumes": check})))
            .map(|_| ())
    }

    /// Sets what `image` does in pods the kubelet starts from now on (pull fails, crashes with
    /// log lines, runs).
    pub fn set_image(
        &self,
        image: &str,
        behaviour: &crate::kubelet::ImageBehaviour,
    ) -> Result<(), AdminError> {
        let rule = crate::kubelet::ImageRule {
            image: image.to_string(),
            behaviour: behaviour.clone(),
        };
        // A rule always encodes (string keys only); a `null` body would be refused by the server.
        let body = serde_json::to_value(&rule).unwrap_or(Value::Null);
        self.send("POST", "/images", Some(&body)).map(|_| ())
    }

    /// `{"resourceVersion": "N", "objects": [...]}`.
    pub fn state(&self) -> Result<Value, AdminError> {
        self.send("GET", "/state", None)
    }

    /// The request log of the API listener.
    pub fn requests(&self) -> Result<Vec<RequestRecord>, AdminError> {
        let v = self.send("GET", "/requests", None)?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    /// Clears the request log.
    pub fn clear_requests(&self) -> Result<(), AdminError> {
        self.send("DELETE", "/requests", None).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_does_not_repeat_its_source() {
        let error = AdminError::Http {
            what: "GET /admin/log".into(),
            source: Box::new(ureq::Error::HostNotFound),
        };
        assert_eq!(error.to_string(), "admin request GET /admin/log failed");
        assert!(std::error::Error::source(&error).is_some());
    }
}
