# A group runner created in GitLab; its glrt- token is written straight into the Secret
# gitlab-runner/gitlab-runner-token and never reaches state, plan or logs. The provider's gitlab
# block (or GITLAB_TOKEN) needs the create_runner and manage_runner scopes (or api).
resource "gitlabrunner_runner" "k8s" {
  runner_type = "group_type"
  group_id    = 42
  gitlab_url  = "https://gitlab.example.com"

  description     = "Kubernetes runner (Terraform)"
  tag_list        = ["kubernetes", "linux"]
  run_untagged    = false
  access_level    = "not_protected"
  maximum_timeout = 3600

  # Reset the token a week before it expires (a scheduled plan -detailed-exitcode exits 2 from
  # then on); change rotation_trigger to rotate on demand.
  rotate_before    = "168h"
  rotation_trigger = "2026-01"

  token_secret {
    namespace = "gitlab-runner"
    name      = "gitlab-runner-token"
  }
}

# The release reads the token from that Secret, rolls its manager when token_digest changes, and
# is destroyed (drained) before the runner is deleted in GitLab.
resource "gitlabrunner_release" "k8s" {
  name              = "gitlab-runner"
  namespace         = "gitlab-runner"
  chart             = "gitlab-runner"
  chart_version     = "0.86.0"
  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = gitlabrunner_runner.k8s.token_secret_name
  token_digest      = gitlabrunner_runner.k8s.token_digest
  runner_id         = gitlabrunner_runner.k8s.runner_id
  runner_name       = "k8s"
}
