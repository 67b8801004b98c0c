# Quickstart: a GitLab Runner on Kubernetes with its token and CA Secrets.
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

  # Lets destroy pause the runner and wait for its jobs (GITLAB_TOKEN holds the token).
  gitlab {
    base_url = var.gitlab_api_url
  }
}

resource "gitlabrunner_token_secret" "runner" {
  namespace = var.namespace
  name      = "gitlab-runner-token"
  # Write-only: the token is sent to the cluster and never stored in the state file.
  runner_token_wo         = var.runner_token
  runner_token_wo_version = var.runner_token_version
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
  token_secret_name = gitlabrunner_token_secret.runner.name
  token_digest      = gitlabrunner_token_secret.runner.token_digest
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

output "runner_config" {
  description = "The config.toml the provider rendered for runners.config."
  value       = gitlabrunner_release.runner.runner_config
}
