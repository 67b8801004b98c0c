# The seed walkthrough: a GitLab Runner whose jobs run Docker-in-Docker, installed from the
# gitlab-runner chart with typed settings. The runner token and the GitLab CA live in Secrets
# managed by this provider; the release references them, so Terraform creates the Secrets first
# and destroys the release (drain, then uninstall) before them.

resource "gitlabrunner_token_secret" "this" {
  namespace       = "gitlab-runner"
  name            = "gitlab-runner-token"
  runner_token_wo = var.runner_token # glrt-… from gitlab_user_runner or the GitLab UI
}

resource "gitlabrunner_cert_secret" "this" {
  namespace       = "gitlab-runner"
  name            = "gitlab-runner-certs"
  gitlab_url      = "https://gitlab.example.com"
  certificate_pem = file("${path.module}/gitlab-ca.pem")
}

resource "gitlabrunner_release" "runner" {
  name          = "gitlab-runner"
  namespace     = "gitlab-runner"
  chart_version = "0.86.0" # from https://charts.gitlab.io

  gitlab_url        = "https://gitlab.example.com"
  token_secret_name = gitlabrunner_token_secret.this.name
  token_digest      = gitlabrunner_token_secret.this.token_digest # rotation rolls the manager
  cert_secret_name  = gitlabrunner_cert_secret.this.name
  runner_name       = "k8s-dind"

  concurrent = 10

  # The non-root UBI image.
  image {
    tag = "ubi-fips-v18.9.0"
  }
  use_tini           = true
  image_pull_secrets = ["regcred"]

  rbac {
    create = true
    rule {
      api_groups = [""]
      resources  = ["pods", "pods/exec", "pods/attach", "pods/log", "secrets", "configmaps", "services"]
      verbs      = ["get", "list", "watch", "create", "patch", "update", "delete"]
    }
  }
  service_account {
    create = true
    name   = "gitlab-runner"
  }

  pod_security_context {
    run_as_user     = 999
    run_as_group    = 999
    fs_group        = 999
    run_as_non_root = true
  }
  security_context {
    run_as_non_root            = true
    allow_privilege_escalation = false
    capabilities_drop          = ["ALL"]
  }

  runner {
    environment = ["DOCKER_TLS_CERTDIR=/certs"]
    kubernetes {
      namespace        = "ci-jobs"
      image            = "alpine:3.20"
      privileged       = true                                   # Docker-in-Docker …
      allowed_images   = ["registry.example.com/*", "docker:*"] # … restricted to these images
      allowed_services = ["docker:*-dind"]
      empty_dir_volume {
        name       = "docker-certs"
        mount_path = "/certs/client"
        medium     = "Memory"
      }
    }
  }

  timeouts {
    create = "10m"
    delete = "45m" # the drain waits for running jobs
  }
}

variable "runner_token" {
  type      = string
  sensitive = true
}

# For a plain helm_release, the same renderer is a provider function:
# values = [yamlencode({ runners = { config = provider::gitlabrunner::runner_config({
#   kubernetes = { privileged = true, allowed_images = ["docker:*"] }
# }) } })]
