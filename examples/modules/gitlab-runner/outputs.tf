output "release_id" {
  description = "namespace/name of the Helm release."
  value       = gitlabrunner_release.this.id
}

output "status" {
  value = gitlabrunner_release.this.status
}

output "token_digest" {
  description = "sha256 of the token Secret's keys (changes when the token is rotated)."
  value       = local.token_digest
}

output "runner_id" {
  description = "The runner's id in GitLab (when this module created it), else null."
  value       = one(gitlabrunner_runner.this[*].runner_id)
}

output "runner_config" {
  description = "The config.toml template the release rendered."
  value       = gitlabrunner_release.this.runner_config
}

output "tags" {
  description = "The tags to give the runner in GitLab."
  value       = var.tags
}
