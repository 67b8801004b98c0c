terraform {
  required_providers {
    gitlabrunner = {
      # Written with its host so the same configuration works with Terraform and OpenTofu.
      source = "registry.terraform.io/gitlabrunner/gitlabrunner"
    }
  }
}

provider "gitlabrunner" {
  # The same arguments (and KUBE_* environment variables) as the hashicorp kubernetes and helm
  # providers. With nothing set, KUBECONFIG and then ~/.kube/config are used.
  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "ci-cluster"
  }

  # Optional: the helm binary (3.8+ or 4.x). Default: `helm` on PATH.
  # helm_path = "/usr/local/bin/helm"

  # Optional: lets a release pause its runner and watch its jobs in GitLab when destroyed.
  # The token needs the manage_runner (or api) scope; GITLAB_TOKEN works too.
  gitlab {
    base_url = "https://gitlab.example.com"
    # A self-managed GitLab behind a private CA (inside GitLab CI, CI_SERVER_TLS_CA_FILE is used):
    # ca_certificate = file("${path.module}/gitlab-ca.pem")
  }
}
