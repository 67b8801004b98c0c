# S3 cache with its credentials in a Secret this configuration creates: the runner caches job
# artifacts between pipelines in S3. The keys are write-only (never in plan or state); the
# gitlabrunner_cache_secret writes them under the chart's keys accesskey and secretkey, and its
# digest rolls the runner manager when they are rotated — one apply.

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

resource "gitlabrunner_cache_secret" "cache" {
  namespace = var.namespace
  name      = var.cache_secret_name
  backend   = "s3"
  # Write-only: sent to the cluster, never stored in plan or state.
  s3_access_key_wo       = var.s3_access_key
  s3_secret_key_wo       = var.s3_secret_key
  credentials_wo_version = var.credentials_version
}

resource "gitlabrunner_release" "runner" {
  name          = "gitlab-runner"
  namespace     = var.namespace
  chart         = var.chart
  chart_version = var.chart_version

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_token_secret.runner.name
  token_digest      = gitlabrunner_token_secret.runner.token_digest
  # A rotated cache key rolls the manager, which reads the credentials when it starts.
  secret_digests = {
    cache = gitlabrunner_cache_secret.cache.credentials_digest
  }
  runner_name = "cache-s3"

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
    cache {
      type        = "s3"
      path        = "gitlab-runner"
      shared      = true
      secret_name = gitlabrunner_cache_secret.cache.name
      s3 {
        server_address  = var.s3_server_address
        bucket_name     = var.bucket_name
        bucket_location = var.bucket_location
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
