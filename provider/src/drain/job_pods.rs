//! Job pods: how to find a runner's job pods, which of them count as running, and what they
//! tell about their job (GitLab Runner ≥ 17.9 labels and annotates them).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

/// Label with the first 9 characters of the runner token (after `glrt-` and `t1_`…).
pub const ID_SHORT_LABEL: &str = "manager.runner.gitlab.com/id-short";
/// Label with `runners.name`.
pub const MANAGER_NAME_LABEL: &str = "manager.runner.gitlab.com/name";
const JOB_ID_ANNOTATION: &str = "job.runner.gitlab.com/id";
const JOB_NAME_ANNOTATION: &str = "job.runner.gitlab.com/name";
const JOB_URL_ANNOTATION: &str = "job.runner.gitlab.com/url";
const PROJECT_ID_KEY: &str = "project.runner.gitlab.com/id";

/// How the runner's job pods are selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPodSelector {
    /// By the short token (exact: one runner token).
    ShortToken(String),
    /// By `runners.name` (when the token Secret could not be read).
    RunnerName(String),
}

impl JobPodSelector {
    /// The Kubernetes label selector.
    pub fn label_selector(&self) -> String {
        match self {
            Self::ShortToken(short) => format!("{ID_SHORT_LABEL}={short}"),
            Self::RunnerName(name) => format!("{MANAGER_NAME_LABEL}={name}"),
        }
    }
}

/// A job pod still doing work: phase `Pending` or `Running`, and not being deleted.
pub fn is_running_job_pod(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Pending" | "Running")
    )
}

/// A running job pod, described for progress logs and timeout errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPod {
    pub namespace: String,
    pub pod: String,
    pub phase: String,
    pub job_id: Option<u64>,
    pub job_name: Option<String>,
    pub project_id: Option<String>,
    pub url: Option<String>,
}

impl JobPod {
    /// Reads a pod's job annotations (and the project label as a fallback).
    pub fn from_pod(pod: &Pod) -> Self {
        let empty = BTreeMap::new();
        let annotations = pod.metadata.annotations.as_ref().unwrap_or(&empty);
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let text = |key: &str| annotations.get(key).filter(|v| !v.is_empty()).cloned();
        Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod: pod.metadata.name.clone().unwrap_or_default(),
            phase: pod
                .status
                .as_ref()
                .and_then(|status| status.phase.clone())
                .unwrap_or_default(),
            job_id: annotations
                .get(JOB_ID_ANNOTATION)
                .and_then(|id| id.trim().parse().ok()),
            job_name: text(JOB_NAME_ANNOTATION),
            project_id: text(PROJECT_ID_KEY).or_else(|| {
                labels
                    .get(PROJECT_ID_KEY)
                    .filter(|v| !v.is_empty())
                    .cloned()
            }),
            url: text(JOB_URL_ANNOTATION),
        }
    }

    /// `pod ns/name (job #12 build, project 7, https://…)`.
    pub fn summary(&self) -> String {
        let mut facts = Vec::new();
        if let Some(id) = self.job_id {
            match &self.job_name {
                Some(name) => facts.push(format!("job #{id} {name}")),
                None => facts.push(format!("job #{id}")),
            }
        }
        if let Some(project) = &self.project_id {
            facts.push(format!("project {project}"));
        }
        if let Some(url) = &self.url {
            facts.push(url.clone());
        }
        if facts.is_empty() {
            format!("pod {}/{} ({})", self.namespace, self.pod, self.phase)
        } else {
            format!("pod {}/{} ({})", self.namespace, self.pod, facts.join(", "))
        }
    }
}

/// The running job pods among `pods`, in name order.
pub fn running_job_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<JobPod> {
    pods.into_iter()
        .filter(|pod| is_running_job_pod(pod))
        .map(JobPod::from_pod)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn selectors_use_the_runner_labels() {
        assert_eq!(
            JobPodSelector::ShortToken("AbC123xyz".into()).label_selector(),
            "manager.runner.gitlab.com/id-short=AbC123xyz"
        );
        assert_eq!(
            JobPodSelector::RunnerName("k8s".into()).label_selector(),
            "manager.runner.gitlab.com/name=k8s"
        );
    }

    #[test]
    fn only_pending_or_running_pods_not_being_deleted_count() {
        let phases = [
            ("Pending", true),
            ("Running", true),
            ("Succeeded", false),
            ("Failed", false),
            ("Unknown", false),
        ];
        for (phase, running) in phases {
            let p = pod(json!({"metadata": {"name": "p"}, "status": {"phase": phase}}));
            assert_eq!(is_running_job_pod(&p), running, "{phase}");
        }
        let deleting = pod(json!({
            "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running"}
        }));
        assert!(!is_running_job_pod(&deleting));
        assert!(!is_running_job_pod(&pod(
            json!({"metadata": {"name": "p"}})
        )));
    }

    #[test]
    fn job_facts_come_from_annotations_with_the_project_label_as_fallback() {
        let p = pod(json!({
            "metadata": {
                "name": "runner-abc-project-7-concurrent-0-x1",
                "namespace": "jobs",
                "labels": {"project.runner.gitlab.com/id": "7"},
                "annotations": {
                    "job.runner.gitlab.com/id": "1234",
                    "job.runner.gitlab.com/name": "build",
                    "job.runner.gitlab.com/url": "https://gitlab.example.com/acme/web/-/jobs/1234"
                }
            },
            "status": {"phase": "Running"}
        }));
        let job = JobPod::from_pod(&p);
        assert_eq!(job.job_id, Some(1234));
        assert_eq!(job.project_id.as_deref(), Some("7"));
        assert_eq!(
            job.summary(),
            "pod jobs/runner-abc-project-7-concurrent-0-x1 (job #1234 build, project 7, \
             https://gitlab.example.com/acme/web/-/jobs/1234)"
        );
        let bare = pod(
            json!({"metadata": {"name": "b", "namespace": "jobs"}, "status": {"phase": "Pending"}}),
        );
        assert_eq!(JobPod::from_pod(&bare).summary(), "pod jobs/b (Pending)");
    }

    #[test]
    fn running_job_pods_filters_and_describes() {
        let pods = [
            pod(json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}})),
            pod(json!({"metadata": {"name": "b"}, "status": {"phase": "Succeeded"}})),
        ];
        let running = running_job_pods(&pods);
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].pod, "a");
    }
}
