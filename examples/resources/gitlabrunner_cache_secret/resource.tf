# The cache credentials Secret the gitlab-runner chart reads (`runners.cache.secretName`). The
# keys are write-only (Terraform/OpenTofu 1.11+): they never enter plan or state, and the
# provider still notices a key changed or deleted by hand through key_digests. Bump
# credentials_wo_version when you rotate them.
variable "s3_access_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "s3_secret_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "gitlabrunner_cache_secret" "s3" {
  namespace = "gitlab-runner"
  name      = "runner-cache-credentials"
  backend   = "s3"

  s3_access_key_wo       = var.s3_access_key # written to the key accesskey
  s3_secret_key_wo       = var.s3_secret_key # written to the key secretkey
  credentials_wo_version = 1
}

# GCS: a service account key file (gcs-application-credentials-file) …
#   backend                 = "gcs"
#   gcs_credentials_json_wo = var.gcs_service_account_json
# … or gcs_access_id_wo + gcs_private_key_wo (gcs-access-id, gcs-private-key).
# Azure: azure_account_name_wo + azure_account_key_wo (azure-account-name, azure-account-key).

# The release points its cache at the Secret and rolls the manager when the keys change.
#   secret_digests = { cache = gitlabrunner_cache_secret.s3.credentials_digest }
#   runner { cache { type = "s3", secret_name = gitlabrunner_cache_secret.s3.name, … } }
output "credentials_digest" {
  value = gitlabrunner_cache_secret.s3.credentials_digest
}
