# Non-root UBI image: the Red Hat UBI based runner image (FIPS build) runs as user 999, with tini
# as PID 1, no privilege escalation and every capability dropped — what OpenShift-style
# restricted policies admit.

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
  runner_name       = "ubi"

  image {
    registry = "registry.gitlab.com"
    image    = "gitlab-org/gitlab-runner"
    tag      = "ubi-fips-v18.9.0"
  }
  use_tini = true

  pod_security_context {
    run_as_user     = 999
    run_as_group    = 999
    fs_group        = 999
    run_as_non_root = true
  }
  security_context {
    run_as_non_root            = true
    allow_privilege_escalation = false
    read_only_root_filesystem  = false
    capabilities_drop          = ["ALL"]
  }

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
      namespace                  = var.namespace
      image                      = "registry.access.redhat.com/ubi9/ubi-minimal:latest"
      allow_privilege_escalation = false
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
