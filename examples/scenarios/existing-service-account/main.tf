# RBAC with an existing service account: the platform team manages the ServiceAccount, Role and
# RoleBinding (e.g. with workload identity annotations); the chart creates no RBAC objects and
# the manager runs as that account. Job pods run as their own, separate account.

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

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_token_secret.runner.name
  token_digest      = gitlabrunner_token_secret.runner.token_digest
  runner_name       = "existing-sa"

  rbac {
    create = false
  }
  service_account {
    create = false
    name   = var.service_account_name
  }

  runner {
    kubernetes {
      namespace       = var.namespace
      image           = "alpine:3.20"
      service_account = var.job_service_account_name
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
