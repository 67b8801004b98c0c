# Docker-in-Docker: jobs build images with a `docker:dind` service. That needs privileged job
# pods, so this runner
#   - runs its jobs only on dedicated build nodes (node selector + a toleration for their taint),
#   - only accepts job and service images from the private registry,
#   - shares the TLS client certificates between the job and the dind service through an
#     in-memory emptyDir at /certs/client (DOCKER_TLS_CERTDIR=/certs).
# A job then uses:
#   image: registry.example.com/docker:27
#   services: [registry.example.com/docker:27-dind]
#   variables: { DOCKER_HOST: tcp://docker:2376, DOCKER_TLS_CERTDIR: /certs, DOCKER_TLS_VERIFY: 1, DOCKER_CERT_PATH: /certs/client }

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
  runner_name       = "dind"

  concurrent = 8

  rbac {
    create = true
    rule {
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "update", "delete"]
    }
  }

  runner {
    environment = ["DOCKER_TLS_CERTDIR=/certs"]
    kubernetes {
      namespace  = var.namespace
      image      = "${var.registry}/docker:27"
      privileged = true

      allowed_images   = ["${var.registry}/*"]
      allowed_services = ["${var.registry}/docker:*-dind"]

      node_selector    = var.build_node_selector
      node_tolerations = var.build_node_tolerations

      cpu_request            = "1"
      memory_request         = "2Gi"
      memory_limit           = "4Gi"
      service_cpu_request    = "1"
      service_memory_request = "2Gi"
      service_memory_limit   = "4Gi"

      empty_dir_volume {
        name       = "docker-certs"
        mount_path = "/certs/client"
        medium     = "Memory"
      }
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
