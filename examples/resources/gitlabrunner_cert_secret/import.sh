# A cert Secret is imported by namespace/name. The first `*.crt` key gives gitlab_hostname and
# certificate_pem (other keys become extra_files), so a configuration using gitlab_hostname and
# certificate_pem plans no change.
terraform import gitlabrunner_cert_secret.gitlab gitlab-runner/gitlab-runner-certs
