# Render the runner config.toml for a plain helm_release (hashicorp helm provider); the TOML is
# checked the way gitlabrunner_release checks it. Provider functions need the provider in
# required_providers (Terraform ≥ 1.8, OpenTofu ≥ 1.7).
terraform {
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

output "runner_config" {
  value = provider::gitlabrunner::runner_config({
    kubernetes = {
      namespace      = "ci-jobs"
      privileged     = true
      allowed_images = ["registry.example.com/*", "docker:*"]
    }
  })
}
