# Kaniko: the unprivileged alternative to Docker-in-Docker. Jobs build images with the kaniko
# executor in an ordinary pod: no privileged mode, no privilege escalation. The registry
# credentials (a kubernetes.io/dockerconfigjson Secret) are mounted where kaniko looks for them.
# A job then uses:
#   image: { name: gcr.io/kaniko-project/executor:v1.23.2-debug, entrypoint: [""] }
#   script: /kaniko/executor --context "$CI_PROJECT_DIR" --destination "registry.example.com/app:$CI_COMMIT_SHA"

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
  runner_name       = "kaniko"

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
    kubernetes {
      namespace                  = var.namespace
      image                      = "alpine:3.20"
      privileged                 = false
      allow_privilege_escalation = false
      allowed_images             = ["gcr.io/kaniko-project/executor:*-debug", "alpine:*", "${var.registry}/*"]

      cpu_request    = "1"
      memory_request = "2Gi"
      memory_limit   = "4Gi"

      secret_volume {
        name       = var.registry_auth_secret_name
        mount_path = "/kaniko/.docker"
        read_only  = true
        items      = { ".dockerconfigjson" = "config.json" }
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
