# Private registry: the runner manager, the helper image and the job images all come from a
# private registry (a mirror of registry.gitlab.com), pulled with an existing
# kubernetes.io/dockerconfigjson Secret. Create it first, e.g.
#   kubectl -n gitlab-runner create secret docker-registry regcred \
#     --docker-server=registry.example.com --docker-username=… --docker-password=…

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
  runner_name       = "private-registry"

  concurrent = 4

  # The manager image from the mirror; the Secret goes to the pod and to its ServiceAccount.
  image {
    registry = var.registry
    image    = "gitlab-org/gitlab-runner"
    tag      = "alpine-v18.9.0"
  }
  image_pull_policy  = "IfNotPresent"
  image_pull_secrets = [var.image_pull_secret_name]

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

  runner {
    kubernetes {
      namespace          = var.namespace
      image              = "${var.registry}/library/alpine:3.20"
      helper_image       = "${var.registry}/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-v18.9.0"
      image_pull_secrets = [var.image_pull_secret_name]
      pull_policy        = ["if-not-present"]
      allowed_images     = ["${var.registry}/*"]
      allowed_services   = ["${var.registry}/*"]
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
