#!/usr/bin/env bash
# Runs the acceptance suite (and kube-test-server's conformance tests) against the real cluster
# named by KUBECONFIG, then prints "N passed, N failed, N skipped" and checks that the run left
# the cluster's namespaces as it found them.
#
#   KUBECONFIG=~/.kube/config scripts/test-real-cluster.sh                 # everything
#   KUBECONFIG=~/.kube/config scripts/test-real-cluster.sh --test drain_terraform
#   scripts/test-real-cluster.sh --self-test [--test token_secret ...]
#   scripts/test-real-cluster.sh --self-test -p kube-test-server --tests
#
# Extra arguments go to `cargo test` (before `--`); a `-- ARGS` part goes to the test binaries.
# --self-test starts one kube-test-server *process* and points the mode at its kubeconfig: the
# suite then talks to it exactly as to a real cluster (it never uses the server's admin surface).
# Tests that cannot run on a real cluster print "SKIPPED: <test>: <reason>"; they are counted as
# skipped, not passed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

self_test=0
packages=(-p acceptance -p kube-test-server)
cargo_args=()
test_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --self-test) self_test=1 ;;
    --) shift; test_args=("$@"); break ;;
    *) cargo_args+=("$1") ;;
  esac
  shift
done
# `-p CRATE` picks the crates; otherwise a --test/--lib selection names targets of the acceptance
# crate.
for a in "${cargo_args[@]+"${cargo_args[@]}"}"; do
  case "$a" in
    -p|--package) packages=(); break ;;
    --test|--lib|--tests) packages=(-p acceptance) ;;
  esac
done

export HELM4_BIN="${HELM4_BIN:-$root/tools/bin/helm}" HELM3_BIN="${HELM3_BIN:-$root/tools/bin/helm3}"
export KUBECTL_BIN="${KUBECTL_BIN:-$root/tools/bin/kubectl}"
export CHECKPOINT_DISABLE=1
unset TF_CLI_CONFIG_FILE

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q -p terraform-provider-gitlabrunner -p kube-test-server
if [[ $self_test == 1 ]]; then
  "$root/target/debug/kube-test-server" --kubeconfig-out "$work/kubeconfig" >"$work/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^KUBECONFIG=' "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^KUBECONFIG=' "$work/server.out" || { cat "$work/server.out" >&2; echo "kube-test-server did not start" >&2; exit 1; }
  export KUBECONFIG="$work/kubeconfig"
  echo "self-test: kube-test-server process $server_pid, KUBECONFIG=$KUBECONFIG" >&2
fi
[[ -n "${KUBECONFIG:-}" ]] || { echo "test-real-cluster.sh: set KUBECONFIG (or use --self-test)" >&2; exit 2; }
export GITLABRUNNER_TEST_REAL_CLUSTER=1

kubectl() { "$KUBECTL_BIN" "$@"; }
kubectl version -o json >/dev/null || { echo "test-real-cluster.sh: the cluster in $KUBECONFIG does not answer" >&2; exit 1; }
kubectl get namespaces -o name | sort >"$work/before"

set +e
cargo test "${packages[@]+"${packages[@]}"}" "${cargo_args[@]+"${cargo_args[@]}"}" -- --nocapture "${test_args[@]+"${test_args[@]}"}" 2>&1 | tee "$work/log"
status=${PIPESTATUS[0]}
set -e

# Namespaces go away asynchronously on a real cluster: wait for the suite's to finish terminating.
for _ in $(seq 1 120); do
  [[ -z "$(kubectl get namespaces -l gitlabrunner-acceptance=true -o name 2>/dev/null)" ]] && break
  sleep 1
done
kubectl get namespaces -o name | sort >"$work/after"
left="$(comm -13 "$work/before" "$work/after")"
gone="$(comm -23 "$work/before" "$work/after")"

# libtest's "test result: ok. 3 passed; 1 failed; ..." lines, one per test binary.
results="$(grep -E '^test result: ' "$work/log" || true)"
passed=$(grep -Eo '[0-9]+ passed' <<<"$results" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' <<<"$results" | awk '{s+=$1} END {print s+0}')
# A skipped test prints one "SKIPPED: <test>: <reason>" line and returns, so libtest counted it
# as passed.
skipped=$(grep -Ec 'SKIPPED: ' "$work/log" || true)
passed=$((passed - skipped))

echo
grep -Eo 'SKIPPED: .*' "$work/log" || true
echo
if [[ -n "$left" ]]; then
  echo "LEFT BEHIND (namespaces the run created and did not delete):"; echo "$left"
fi
if [[ -n "$gone" ]]; then
  echo "REMOVED (namespaces that existed before the run):"; echo "$gone"
fi
echo "$passed passed, $failed failed, $skipped skipped"
if [[ $status -ne 0 || -n "$left" || -n "$gone" ]]; then exit 1; fi
