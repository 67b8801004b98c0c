variable "namespace" {
  type    = string
  default = "gitlab-runner"
}

variable "kubeconfig" {
  description = "Kubeconfig file; null = KUBE_CONFIG_PATH, KUBECONFIG, then ~/.kube/config."
  type        = string
  default     = null
}

variable "kube_context" {
  type    = string
  default = null
}

variable "helm_path" {
  description = "The helm binary (3.8+ or 4.x); null = helm on PATH."
  type        = string
  default     = null
}

variable "gitlab_url" {
  description = "The GitLab instance the runner talks to."
  type        = string
  default     = "https://gitlab.example.com"
}

variable "gitlab_api_url" {
  description = "GitLab's base URL for the drain's API calls. Leave it null: the drain then talks to gitlab_url. A URL on another host than gitlab_url is refused unless the provider's gitlab block sets allow_different_host."
  type        = string
  default     = null
}

variable "gitlab_ca_file" {
  description = "PEM file with the GitLab server certificate (or its CA)."
  type        = string
}

variable "chart" {
  description = "Chart name in the repository, an oci:// reference, or a local chart directory."
  type        = string
  default     = "gitlab-runner"
}

variable "chart_version" {
  type    = string
  default = null
}
