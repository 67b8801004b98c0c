# A release is imported by namespace/name. When this provider installed it, the settings it
# recorded with the release are restored, so the plan after the import is empty if the
# configuration matches.
terraform import gitlabrunner_release.runner gitlab-runner/gitlab-runner
