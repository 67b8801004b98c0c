# Custom GitLab CA from a PEM file: GitLab's certificate is signed by an internal CA. The
# provider writes the chain to a Secret under the key the runner looks for (<gitlab host>.crt),
# checks at plan time that every block is a certificate, and warns before it expires.

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
  namespace       = var.namespace
  name            = "gitlab-runner-certs"
  gitlab_url      = var.gitlab_url
  certificate_pem = file(var.gitlab_ca_file)
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
  runner_name       = "custom-ca"

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

output "gitlab_certificate" {
  value = {
    file_name   = gitlabrunner_cert_secret.gitlab.file_name
    subject     = gitlabrunner_cert_secret.gitlab.subject
    not_after   = gitlabrunner_cert_secret.gitlab.not_after
    fingerprint = gitlabrunner_cert_secret.gitlab.sha256_fingerprint
  }
}
