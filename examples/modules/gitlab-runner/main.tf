# A GitLab Runner on Kubernetes in one apply: the runner in GitLab with its token written straight
# into the token Secret (`runner` set; or a token Secret from `runner_token` for a runner created
# elsewhere), the (optional) GitLab CA Secret and the chart release, wired so that Terraform
# orders them safely.
#
# The release takes the Secrets' names, the token digest and the runner id from those resources
# (attribute references, not literals). Terraform therefore creates them first and, on destroy,
# destroys the release first: the release's destroy pauses the runner, waits for its running jobs
# and scales the manager down while its RBAC still exists; only then are the runner (in GitLab)
# and the Secrets deleted. A rotated token changes token_digest, and a renewed CA or rotated cache
# key changes secret_digests: each rolls the manager pod.

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

# The runner in GitLab (when `runner` is set): no token in state, plan or variables.
resource "gitlabrunner_runner" "this" {
  count = var.runner == null ? 0 : 1

  runner_type      = var.runner.runner_type
  group_id         = var.runner.group_id
  project_id       = var.runner.project_id
  gitlab_url       = var.gitlab_url
  description      = coalesce(var.runner.description, var.runner_name)
  tag_list         = var.tags
  run_untagged     = var.runner.run_untagged
  locked           = var.runner.locked
  paused           = var.runner.paused
  access_level     = var.runner.access_level
  maximum_timeout  = var.runner.maximum_timeout
  maintenance_note = var.runner.maintenance_note
  rotate_before    = var.runner.rotate_before
  rotation_trigger = var.runner.rotation_trigger

  token_secret {
    namespace = var.namespace
    name      = "${var.release_name}-token"
  }
}

# Or a token Secret for a runner created elsewhere (when `runner` is null).
resource "gitlabrunner_token_secret" "this" {
  count = var.runner == null ? 1 : 0

  namespace               = var.namespace
  name                    = "${var.release_name}-token"
  runner_token_wo         = var.runner_token
  runner_token_wo_version = var.runner_token_version
}

moved {
  from = gitlabrunner_token_secret.this
  to   = gitlabrunner_token_secret.this[0]
}

locals {
  token_secret_name = coalesce(one(gitlabrunner_runner.this[*].token_secret_name), one(gitlabrunner_token_secret.this[*].name))
  token_digest      = coalesce(one(gitlabrunner_runner.this[*].token_digest), one(gitlabrunner_token_secret.this[*].token_digest))
}

resource "gitlabrunner_cert_secret" "gitlab" {
  count = var.gitlab_ca_pem == null ? 0 : 1

  namespace       = var.namespace
  name            = "${var.release_name}-certs"
  gitlab_url      = var.gitlab_url
  certificate_pem = var.gitlab_ca_pem
}

# Optional distributed cache: its credentials Secret (write-only keys under the chart's key names).
resource "gitlabrunner_cache_secret" "this" {
  count = var.cache == null ? 0 : 1

  namespace               = var.namespace
  name                    = "${var.release_name}-cache"
  backend                 = var.cache.backend
  s3_access_key_wo        = try(var.cache_credentials.s3_access_key, null)
  s3_secret_key_wo        = try(var.cache_credentials.s3_secret_key, null)
  gcs_credentials_json_wo = try(var.cache_credentials.gcs_credentials_json, null)
  azure_account_name_wo   = try(var.cache_credentials.azure_account_name, null)
  azure_account_key_wo    = try(var.cache_credentials.azure_account_key, null)
  credentials_wo_version  = var.cache.credentials_version
}

resource "gitlabrunner_release" "this" {
  name          = var.release_name
  namespace     = var.namespace
  chart         = var.chart
  chart_version = var.chart_version

  gitlab_url        = var.gitlab_url
  token_secret_name = local.token_secret_name
  token_digest      = local.token_digest
  runner_id         = one(gitlabrunner_runner.this[*].runner_id)
  cert_secret_name  = one(gitlabrunner_cert_secret.gitlab[*].name)
  # A renewed CA or rotated cache key rolls the manager, which reads them when it starts.
  secret_digests = merge(
    { for s in gitlabrunner_cert_secret.gitlab : "certs" => s.certs_digest },
    { for s in gitlabrunner_cache_secret.this : "cache" => s.credentials_digest },
  )
  runner_name = var.runner_name

  concurrent = var.concurrent
  replicas   = var.replicas

  # With glrt- tokens, tags live on the runner in GitLab (set there by gitlabrunner_runner when
  # `runner` is set); recorded here so that `kubectl describe` shows which tags it serves.
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
    dynamic "cache" {
      for_each = gitlabrunner_cache_secret.this
      content {
        type        = var.cache.backend
        shared      = true
        secret_name = cache.value.name
        dynamic "s3" {
          for_each = var.cache.backend == "s3" ? [var.cache] : []
          content {
            server_address  = s3.value.server_address
            bucket_name     = s3.value.bucket
            bucket_location = s3.value.location
          }
        }
        dynamic "gcs" {
          for_each = var.cache.backend == "gcs" ? [var.cache] : []
          content {
            bucket_name = gcs.value.bucket
          }
        }
        dynamic "azure" {
          for_each = var.cache.backend == "azure" ? [var.cache] : []
          content {
            container_name = azure.value.bucket
          }
        }
      }
    }
  }

  drain_timeout = var.drain_timeout

  timeouts {
    delete = var.delete_timeout
  }
}
