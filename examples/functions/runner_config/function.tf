# Render the runner config.toml for a plain helm_release (hashicorp helm provider); the TOML is
# checked the way gitlabrunner_release checks it.
output "runner_config" {
  value = provider::gitlabrunner::runner_config({
    kubernetes = {
      namespace      = "ci-jobs"
      privileged     = true
      allowed_images = ["registry.example.com/*", "docker:*"]
    }
  })
}
