# Quickstart: a GitLab Runner on Kubernetes — the runner created in GitLab with its token written
# straight into a Secret (never into state or plan), a CA Secret, and the chart release.
#
# `scripts/quickstart.sh` applies this against the local test world (a Kubernetes API test server
# and a GitLab API test server). To point it at a real cluster and GitLab instead, see README.md
# beside this file.

terraform {
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

provider "gitlabrunner" {
  # Connection: KUBE_CONFIG_PATH / KUBECONFIG / ~/.kube/config when these are null.
  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.kube_context
  }
  helm_path = var.helm_path

  # Creates the runner in GitLab (gitlabrunner_runner) and lets destroy pause it and wait for its
  # jobs. GITLAB_TOKEN holds the access token (create_runner + manage_runner scopes, or api).
  gitlab {
    base_url = var.gitlab_api_url
  }
}

# The runner in GitLab. Its glrt- token goes straight into the Secret gitlab-runner-token and is
# rotated a week before it expires; state holds only its digest.
resource "gitlabrunner_runner" "runner" {
  runner_type   = "instance_type"
  gitlab_url    = var.gitlab_url
  description   = "quickstart"
  tag_list      = ["kubernetes"]
  run_untagged  = true
  rotate_before = "168h"

  token_secret {
    namespace = var.namespace
    name      = "gitlab-runner-token"
  }
}

resource "gitlabrunner_cert_secret" "gitlab" {
  namespace       = var.namespace
  name            = "gitlab-runner-certs"
  gitlab_url      = var.gitlab_url
  certificate_pem = file(var.gitlab_ca_file)
}

resource "gitlabrunner_release" "runner" {
  name             = "gitlab-runner"
  namespace        = var.namespace
  create_namespace = false

  chart         = var.chart
  chart_version = var.chart_version

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_runner.runner.token_secret_name
  token_digest      = gitlabrunner_runner.runner.token_digest
  runner_id         = gitlabrunner_runner.runner.runner_id
  cert_secret_name  = gitlabrunner_cert_secret.gitlab.name
  runner_name       = "quickstart"

  concurrent = 4

  rbac {
    create = true
    rule {
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "update", "delete"]
    }
  }
  service_account {
    create = true
    name   = "gitlab-runner"
  }

  pod_security_context {
    run_as_user     = 100
    fs_group        = 65533
    run_as_non_root = true
  }

  runner {
    kubernetes {
      namespace      = var.namespace
      image          = "alpine:3.20"
      cpu_request    = "250m"
      memory_request = "256Mi"
      memory_limit   = "1Gi"
      allowed_images = ["alpine:*", "registry.gitlab.com/*"]
    }
  }

  drain_timeout = "10m"
}

output "release" {
  value = {
    id            = gitlabrunner_release.runner.id
    status        = gitlabrunner_release.runner.status
    revision      = gitlabrunner_release.runner.revision
    chart_version = gitlabrunner_release.runner.chart_version
  }
}

output "runner_id" {
  description = "The runner's id in GitLab."
  value       = gitlabrunner_runner.runner.runner_id
}

output "runner_config" {
  description = "The config.toml the provider rendered for runners.config."
  value       = gitlabrunner_release.runner.runner_config
}
