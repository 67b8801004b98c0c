# A GitLab Runner on Kubernetes: the token Secret, the (optional) GitLab CA Secret and the chart
# release, wired so that Terraform orders them safely.
#
# The release takes the Secrets' names and the token digest from the Secret resources
# (attribute references, not literals). Terraform therefore creates the Secrets first and, on
# destroy, destroys the release first: the release's destroy pauses the runner, waits for its
# running jobs and scales the manager down while its RBAC still exists; only then are the
# Secrets deleted. Rotating the token changes token_digest, which rolls the manager pod.

terraform {
  required_version = ">= 1.11"
  required_providers {
    gitlabrunner = {
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

locals {
  job_namespace = coalesce(var.job_namespace, var.namespace)
}

resource "gitlabrunner_token_secret" "this" {
  namespace               = var.namespace
  name                    = "${var.release_name}-token"
  runner_token_wo         = var.runner_token
  runner_token_wo_version = var.runner_token_version
}

resource "gitlabrunner_cert_secret" "gitlab" {
  count = var.gitlab_ca_pem == null ? 0 : 1

  namespace       = var.namespace
  name            = "${var.release_name}-certs"
  gitlab_url      = var.gitlab_url
  certificate_pem = var.gitlab_ca_pem
}

resource "gitlabrunner_release" "this" {
  name          = var.release_name
  namespace     = var.namespace
  chart         = var.chart
  chart_version = var.chart_version

  gitlab_url        = var.gitlab_url
  token_secret_name = gitlabrunner_token_secret.this.name
  token_digest      = gitlabrunner_token_secret.this.token_digest
  cert_secret_name  = one(gitlabrunner_cert_secret.gitlab[*].name)
  runner_name       = var.runner_name

  concurrent = var.concurrent
  replicas   = var.replicas

  # With glrt- tokens, tags live on the runner in GitLab; recorded here so that
  # `kubectl describe` shows which tags this deployment serves.
  pod_annotations = {
    "gitlab-runner.example.com/tags" = join(",", var.tags)
  }

  resources {
    requests = var.manager_resources.requests
    limits   = var.manager_resources.limits
  }

  rbac {
    create       = true
    cluster_wide = local.job_namespace != var.namespace
    rule {
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps"]
      verbs      = ["get", "list", "watch", "create", "patch", "update", "delete"]
    }
  }
  service_account {
    create = true
    name   = var.release_name
  }

  runner {
    kubernetes {
      namespace      = local.job_namespace
      image          = var.job_image
      cpu_request    = var.job_size.cpu_request
      cpu_limit      = var.job_size.cpu_limit
      memory_request = var.job_size.memory_request
      memory_limit   = var.job_size.memory_limit
      node_selector  = var.job_node_selector
    }
  }

  drain_timeout = var.drain_timeout

  timeouts {
    delete = var.delete_timeout
  }
}
