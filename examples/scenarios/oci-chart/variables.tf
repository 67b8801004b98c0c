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
  description = "The chart's oci:// reference in your registry."
  type        = string
  default     = "oci://registry.example.com/charts/gitlab-runner"
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

variable "registry_username" {
  description = "User (or robot account / deploy token) that may pull the chart."
  type        = string
  default     = "ci-robot"
}

variable "registry_password" {
  description = "Its password or token (e.g. TF_VAR_registry_password in CI)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "registry_ca_file" {
  description = "PEM file of the CA that signs the registry's certificate; null = the system's CAs."
  type        = string
  default     = null
}
