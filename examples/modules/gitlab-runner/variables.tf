variable "namespace" {
  description = "Namespace of the runner manager and its Secrets (it must exist)."
  type        = string
}

variable "release_name" {
  description = "Helm release name; also prefixes the Secrets and the ServiceAccount."
  type        = string
  default     = "gitlab-runner"
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

variable "gitlab_url" {
  description = "The GitLab instance the runner registers with."
  type        = string
}

variable "gitlab_ca_pem" {
  description = "PEM chain GitLab's certificate is trusted with; null = the system trust store."
  type        = string
  default     = null
}

variable "runner" {
  description = "Create the runner in GitLab (gitlabrunner_runner): its token goes straight into the token Secret and is rotated `rotate_before` its expiry; `runner_token` is then not used. The provider's gitlab block (or GITLAB_TOKEN) needs create_runner and manage_runner (or api). null = use `runner_token` for a runner created elsewhere."
  type = object({
    runner_type      = optional(string, "instance_type")
    group_id         = optional(number)
    project_id       = optional(number)
    description      = optional(string)
    run_untagged     = optional(bool)
    locked           = optional(bool)
    paused           = optional(bool)
    access_level     = optional(string)
    maximum_timeout  = optional(number)
    maintenance_note = optional(string)
    rotate_before    = optional(string, "168h")
    rotation_trigger = optional(string)
  })
  default = null
}

variable "runner_token" {
  description = "The authentication token (glrt-…) of a runner created elsewhere, when `runner` is null. Write-only: never stored in state."
  type        = string
  sensitive   = true
  ephemeral   = true
  default     = null
}

variable "runner_token_version" {
  description = "Bump when the token changes: the write-only token is only sent when this changes."
  type        = number
  default     = 1
}

variable "cache" {
  description = "Distributed cache: backend (s3, gcs or azure), bucket (the Azure container), S3's server_address and location; bump credentials_version when cache_credentials change. null = no cache."
  type = object({
    backend             = string
    bucket              = string
    server_address      = optional(string, "s3.amazonaws.com")
    location            = optional(string)
    credentials_version = optional(number, 1)
  })
  default = null
}

variable "cache_credentials" {
  description = "The cache backend's credentials, written only into its Secret (never state): s3_access_key + s3_secret_key, gcs_credentials_json (service account key file), or azure_account_name + azure_account_key."
  type = object({
    s3_access_key        = optional(string)
    s3_secret_key        = optional(string)
    gcs_credentials_json = optional(string)
    azure_account_name   = optional(string)
    azure_account_key    = optional(string)
  })
  sensitive = true
  ephemeral = true
  default   = null
}

variable "runner_name" {
  description = "Name of the runner (job pods are labelled with it)."
  type        = string
}

variable "tags" {
  description = "The runner's tags in GitLab (set on the runner by this module when `runner` is set; otherwise set them where the runner is created)."
  type        = list(string)
  default     = []
}

variable "concurrent" {
  description = "How many jobs the runner runs at once."
  type        = number
  default     = 4
}

variable "replicas" {
  description = "Manager pods."
  type        = number
  default     = 1
}

variable "manager_resources" {
  description = "Requests and limits of the manager pod."
  type = object({
    requests = optional(map(string), { cpu = "100m", memory = "128Mi" })
    limits   = optional(map(string), { memory = "256Mi" })
  })
  default = {}
}

variable "job_namespace" {
  description = "Namespace of the job pods; null = the manager's namespace."
  type        = string
  default     = null
}

variable "job_image" {
  description = "Default image of jobs that name none."
  type        = string
  default     = "alpine:3.20"
}

variable "job_size" {
  description = "Requests and limits of each job's build container."
  type = object({
    cpu_request    = string
    cpu_limit      = optional(string)
    memory_request = string
    memory_limit   = string
  })
  default = {
    cpu_request    = "500m"
    memory_request = "512Mi"
    memory_limit   = "1Gi"
  }
}

variable "job_node_selector" {
  description = "Node labels job pods must match."
  type        = map(string)
  default     = {}
}

variable "drain_timeout" {
  description = "How long destroy waits for running jobs (Go duration)."
  type        = string
  default     = "30m"
}

variable "delete_timeout" {
  description = "Upper bound of the whole destroy (drain + uninstall)."
  type        = string
  default     = "45m"
}
