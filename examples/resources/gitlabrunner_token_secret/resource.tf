# The runner token Secret the gitlab-runner chart mounts (`runners.secret`). The token is the
# glrt-… token of a runner created in GitLab (UI, runners API, or gitlab_user_runner).
#
# With runner_token_wo (Terraform/OpenTofu 1.11+) the token never enters plan or state; the
# provider still notices a changed or edited token through key_digests. Bump
# runner_token_wo_version when you rotate it, to record the rotation.
variable "runner_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "gitlabrunner_token_secret" "runner" {
  namespace = "gitlab-runner"
  name      = "gitlab-runner-token"
  labels = {
    "app.kubernetes.io/part-of" = "ci"
  }

  runner_token_wo         = var.runner_token
  runner_token_wo_version = 1

  # Or, stored in state (sensitive):
  # runner_token = gitlab_user_runner.this.token

  timeouts {
    create = "2m"
  }
}

# Roll the runner when the token changes: the chart does not watch external Secrets.
output "token_digest" {
  value = gitlabrunner_token_secret.runner.token_digest
}
