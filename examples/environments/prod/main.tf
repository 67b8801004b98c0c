# The prod environment: one use of examples/modules/gitlab-runner. The environments differ only
# in the arguments below (size, tags, namespace); everything else comes from the module.

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

module "runner" {
  source = "../../modules/gitlab-runner"

  namespace            = var.namespace
  chart                = var.chart
  chart_version        = var.chart_version
  gitlab_url           = var.gitlab_url
  gitlab_ca_pem        = var.gitlab_ca_file == null ? null : file(var.gitlab_ca_file)
  runner_token         = var.runner_token
  runner_token_version = var.runner_token_version

  runner_name   = "k8s-prod"
  tags          = ["prod", "kubernetes", "docker"]
  concurrent    = 20
  replicas      = 2
  job_namespace = var.job_namespace
  manager_resources = {
    requests = { cpu = "250m", memory = "256Mi" }
    limits   = { memory = "512Mi" }
  }
  job_size = {
    cpu_request    = "1"
    cpu_limit      = "2"
    memory_request = "2Gi"
    memory_limit   = "4Gi"
  }
  job_node_selector = { "node-role.example.com/ci" = "true" }
  drain_timeout     = "1h"
  delete_timeout    = "90m"

  # The S3 cache, its keys written only into the cache Secret (never state).
  cache = var.cache_bucket == null ? null : { backend = "s3", bucket = var.cache_bucket }
  cache_credentials = {
    s3_access_key = var.cache_s3_access_key
    s3_secret_key = var.cache_s3_secret_key
  }
}

output "runner" {
  value = {
    release = module.runner.release_id
    status  = module.runner.status
    tags    = module.runner.tags
  }
}
