# A runner is imported by its GitLab id and the Secret that holds its current token
# (<runner id>/<namespace>/<secret name>, plus /<gitlab_url> when the configuration sets
# gitlab_url). The token is read from the Secret to compute token_digest and checked with GitLab;
# it is never stored.
terraform import gitlabrunner_runner.k8s 1234/gitlab-runner/gitlab-runner-token/https://gitlab.example.com
