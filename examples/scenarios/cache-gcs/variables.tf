# Where and how to install. The acceptance tests point these at the local test world; for a real
# cluster, leave the connection variables null (KUBECONFIG / ~/.kube/config are used).

variable "kubeconfig" {
  description = "Kubeconfig file; null = KUBE_CONFIG_PATH, KUBECONFIG, then ~/.kube/config."
  type        = string
  default     = null
}

variable "kube_context" {
  description = "Kubeconfig context; null = the current context."
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
  description = "The chart version to pin."
  type        = string
  default     = "0.86.0"
}

variable "namespace" {
  description = "Namespace of the runner manager (it must exist)."
  type        = string
  default     = "gitlab-runner"
}

variable "gitlab_url" {
  description = "The GitLab instance the runner registers with."
  type        = string
  default     = "https://gitlab.com"
}

variable "gitlab_api_url" {
  description = "GitLab's base URL for the drain's API calls on destroy (GITLAB_TOKEN holds the API token)."
  type        = string
  default     = "https://gitlab.com"
}

variable "runner_token" {
  description = "The runner authentication token (glrt-…) from GitLab."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "cache_secret_name" {
  description = "Name of the Secret with the cache credentials (created by this configuration)."
  type        = string
  default     = "runner-cache-credentials"
}

variable "bucket_name" {
  type    = string
  default = "gitlab-runner-cache"
}

variable "gcs_credentials_json" {
  description = "The service account key file (JSON), e.g. from TF_VAR_gcs_credentials_json=$(cat sa.json)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "credentials_version" {
  description = "Change it (e.g. 1 → 2) whenever you rotate the cache credentials."
  type        = number
  default     = 1
}
