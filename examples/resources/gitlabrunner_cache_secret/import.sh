# A cache Secret is imported by namespace/name. The backend is found from the chart keys the
# Secret holds; the credentials stay write-only, so the first plan only records
# credentials_wo_version (the Secret's keys plan no change when the values match).
terraform import gitlabrunner_cache_secret.s3 gitlab-runner/runner-cache-credentials
