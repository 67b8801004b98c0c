variable "kubeconfig" {
  description = "Kubeconfig file; null = KUBE_CONFIG_PATH, KUBECONFIG, then ~/.kube/config."
  type        = string
  default     = null
}

variable "kube_context" {
  description = "Kubeconfig context of the prod cluster; null = the current context."
  type        = string
  default     = null
}

variable "helm_path" {
  description = "The helm binary (3.8+ or 4.x); null = helm on PATH."
  type        = string
  default     = null
}

variable "chart" {
  description = "Chart name in https://charts.gitlab.io, an oci:// reference, or a local chart directory."
  type        = string
  default     = "gitlab-runner"
}

variable "chart_version" {
  type    = string
  default = "0.86.0"
}

variable "namespace" {
  type    = string
  default = "gitlab-runner-prod"
}

variable "gitlab_url" {
  type    = string
  default = "https://gitlab.example.com"
}

variable "gitlab_api_url" {
  description = "GitLab's base URL for the drain's API calls on destroy (GITLAB_TOKEN holds the API token)."
  type        = string
  default     = "https://gitlab.example.com"
}

variable "gitlab_ca_file" {
  description = "PEM file GitLab's certificate is trusted with; null = the system trust store."
  type        = string
  default     = null
}

variable "runner_token" {
  description = "The prod runner's authentication token (glrt-…)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "runner_token_version" {
  type    = number
  default = 1
}

variable "job_namespace" {
  description = "Namespace of prod's job pods (it must exist); the manager gets cluster-wide RBAC for it."
  type        = string
  default     = "ci-jobs-prod"
}

variable "cache_bucket" {
  description = "S3 bucket of the runners' cache; null = no cache."
  type        = string
  default     = null
}

variable "cache_s3_access_key" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}

variable "cache_s3_secret_key" {
  type      = string
  sensitive = true
  ephemeral = true
  default   = null
}
