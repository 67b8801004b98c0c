//! The work still running on a runner: GitLab's view and the job pods', merged for messages.

use std::collections::BTreeSet;

use gitlab_runner_api::Job;

use super::job_pods::JobPod;

/// Running jobs as GitLab lists them and running job pods as the cluster shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningWork {
    /// Jobs GitLab lists as running (only those the token can see).
    pub gitlab_jobs: Vec<Job>,
    /// Job pods in phase Pending/Running that are not being deleted.
    pub pods: Vec<JobPod>,
}

impl RunningWork {
    /// Nothing runs.
    pub fn is_idle(&self) -> bool {
        self.gitlab_jobs.is_empty() && self.pods.is_empty()
    }

    /// One line per job: GitLab jobs first (id, name, project, URL), then the pods whose job
    /// GitLab did not list (hidden from the token, or not known to GitLab).
    pub fn lines(&self) -> Vec<String> {
        let listed: BTreeSet<u64> = self.gitlab_jobs.iter().map(|job| job.id).collect();
        let mut lines: Vec<String> = self.gitlab_jobs.iter().map(describe_job).collect();
        lines.extend(
            self.pods
                .iter()
                .filter(|pod| pod.job_id.is_none_or(|id| !listed.contains(&id)))
                .map(JobPod::summary),
        );
        lines
    }

    /// How many distinct jobs run (a GitLab job and its pod count once).
    pub fn count(&self) -> usize {
        self.lines().len()
    }
}

/// `job #12 build (acme/web) https://…`.
pub fn describe_job(job: &Job) -> String {
    let mut line = format!("job {}", job.summary());
    if let Some(url) = &job.web_url {
        line.push(' ');
        line.push_str(url);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": id, "status": "running", "name": "build",
            "web_url": format!("https://gitlab.example.com/acme/web/-/jobs/{id}"),
            "project": {"id": 7, "path_with_namespace": "acme/web"}
        }))
        .unwrap()
    }

    fn pod(name: &str, job_id: Option<u64>) -> JobPod {
        JobPod {
            namespace: "jobs".into(),
            pod: name.into(),
            phase: "Running".into(),
            job_id,
            job_name: None,
            project_id: Some("9".into()),
            url: None,
        }
    }

    #[test]
    fn a_job_and_its_pod_are_listed_once_and_hidden_jobs_show_through_their_pods() {
        let work = RunningWork {
            gitlab_jobs: vec![job(12)],
            pods: vec![pod("a", Some(12)), pod("b", Some(13)), pod("c", None)],
        };
        assert_eq!(
            work.lines(),
            vec![
                "job #12 build (acme/web) https://gitlab.example.com/acme/web/-/jobs/12",
                "pod jobs/b (job #13, project 9)",
                "pod jobs/c (project 9)",
            ]
        );
        assert_eq!(work.count(), 3);
        assert!(!work.is_idle());
        assert!(RunningWork::default().is_idle());
    }
}
