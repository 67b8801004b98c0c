# The Secret the gitlab-runner chart mounts as its certs directory (`certsSecretName`). The runner
# trusts the file `<gitlab host>.crt`; the provider derives that name from gitlab_url, checks the
# certificate at plan time and warns 30 days (expiry_warning_days) before it expires.
resource "gitlabrunner_cert_secret" "gitlab" {
  namespace       = "gitlab-runner"
  name            = "gitlab-runner-certs"
  gitlab_url      = "https://gitlab.example.com"
  certificate_pem = file("${path.module}/gitlab-chain.pem")

  # Further files for the certs directory, e.g. a CA the jobs should trust as well.
  extra_files = {
    "ca.crt" = file("${path.module}/company-ca.pem")
  }
}

# Or copy the certificate from another Secret, e.g. the self-signed chain the GitLab chart
# creates; a renewed source shows up as an update in the next plan.
resource "gitlabrunner_cert_secret" "from_gitlab_chart" {
  namespace       = "gitlab-runner"
  name            = "gitlab-runner-certs-copy"
  gitlab_hostname = "gitlab.example.com"

  source_secret {
    namespace = "gitlab"
    name      = "gitlab-wildcard-tls-chain"
    key       = "gitlab.example.com.crt"
  }
}

output "certificate_expires" {
  value = gitlabrunner_cert_secret.gitlab.not_after
}
