# The dev environment: one use of examples/modules/gitlab-runner. The environments differ only
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

  runner_name = "k8s-dev"
  tags        = ["dev", "kubernetes"]
  concurrent  = 2
  job_size = {
    cpu_request    = "250m"
    memory_request = "256Mi"
    memory_limit   = "512Mi"
  }
  drain_timeout = "5m"
}

output "runner" {
  value = {
    release = module.runner.release_id
    status  = module.runner.status
    tags    = module.runner.tags
  }
}
