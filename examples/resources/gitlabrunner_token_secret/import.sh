# A token Secret is imported by namespace/name. Only the digests of its keys are recorded, never
# the token: with runner_token_wo the next plan is empty; with runner_token it adds the token to
# state and the apply writes the same bytes (taking ownership of the Secret).
terraform import gitlabrunner_token_secret.runner gitlab-runner/gitlab-runner-token
