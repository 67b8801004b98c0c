# The chart from a private OCI registry (GitLab's container registry, Harbor, …) with its own CA and
# credentials: mirror it once with
#   helm pull gitlab-runner --repo https://charts.gitlab.io --version 0.86.0
#   helm push gitlab-runner-0.86.0.tgz oci://registry.example.com/charts
# The registry password is an ephemeral variable passed to a write-only attribute: it reaches helm
# on stdin and is never stored in plan or state.

terraform {
  required_version = ">= 1.11"
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

provider "gitlabrunner" {
  kubernetes {
    config_path    = var.kubeconfig
    config_context = var.kube_context
  }
  helm_path = var.helm_path
  gitlab {
    base_url = var.gitlab_api_url
  }
}

resource "gitlabrunner_token_secret" "runner" {
  namespace = var.namespace
  name      = "gitlab-runner-token"
  # Write-only: sent to the cluster, never stored in the state file.
  runner_token_wo         = var.runner_token
  runner_token_wo_version = 1
}

resource "gitlabrunner_release" "runner" {
  name          = "gitlab-runner"
  namespace     = var.namespace
  chart         = var.chart
  chart_version = var.chart_version

  repository_ca_certificate = var.registry_ca_file == null ? null : file(var.registry_ca_file)
  repository_username       = var.registry_username
  repository_password_wo    = var.registry_password

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_token_secret.runner.name
  token_digest      = gitlabrunner_token_secret.runner.token_digest
  runner_name       = "oci-chart"

  concurrent = 4

  rbac {
    create = true
    rule {
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "update", "delete"]
    }
  }

  runner {
    kubernetes {
      namespace      = var.namespace
      image          = "alpine:3.20"
      cpu_request    = "100m"
      memory_request = "128Mi"
    }
  }
}

output "release" {
  value = {
    id       = gitlabrunner_release.runner.id
    status   = gitlabrunner_release.runner.status
    revision = gitlabrunner_release.runner.revision
  }
}
