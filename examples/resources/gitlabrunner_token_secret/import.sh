# A token Secret is imported by namespace/name. The token found in the Secret is recorded in
# runner_token (or registration_token), so a configuration using runner_token plans no change;
# with runner_token_wo the first plan only drops it from state again.
terraform import gitlabrunner_token_secret.runner gitlab-runner/gitlab-runner-token
