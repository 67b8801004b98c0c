# Custom GitLab CA from the GitLab chart: a GitLab installed with the `gitlab` Helm chart and its
# auto-generated self-signed wildcard certificate keeps the chain in the Secret
# `<gitlab release>-wildcard-tls-chain` (key `gitlab.<domain>.crt`). The provider copies that key
# into the runner's namespace and follows it: when the GitLab chart renews the certificate, the
# next plan shows the change.

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

resource "gitlabrunner_cert_secret" "gitlab" {
  namespace  = var.namespace
  name       = "gitlab-runner-certs"
  gitlab_url = var.gitlab_url
  source_secret {
    namespace = var.gitlab_namespace
    name      = "${var.gitlab_release}-wildcard-tls-chain"
    key       = "gitlab.${var.gitlab_domain}.crt"
  }
}

resource "gitlabrunner_release" "runner" {
  name          = "gitlab-runner"
  namespace     = var.namespace
  chart         = var.chart
  chart_version = var.chart_version

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_token_secret.runner.name
  token_digest      = gitlabrunner_token_secret.runner.token_digest
  cert_secret_name  = gitlabrunner_cert_secret.gitlab.name
  runner_name       = "gitlab-chart-ca"

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
      namespace = var.namespace
      image     = "alpine:3.20"
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
