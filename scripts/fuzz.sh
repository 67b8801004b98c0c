#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with libFuzzer, on the stable toolchain (no nightly, no
# cargo-fuzz: the sanitizer-coverage instrumentation is a stable -C flag; libfuzzer-sys builds
# libFuzzer with the system C++ compiler).
#
#   scripts/fuzz.sh <target> [seconds (default 300)] [more libFuzzer flags...]
#   scripts/fuzz.sh list
#
# Targets: msgpack json runner_toml release_record manifest_yaml values_yaml pem (fuzz/src/targets.rs).
# The run starts from fuzz/corpus/<target>/ and grows target/libfuzzer/corpus/<target>/; a crash
# is written to target/libfuzzer/crashes/ — add it to fuzz/corpus/<target>/ with the fix.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

targets="msgpack json runner_toml release_record manifest_yaml values_yaml pem"
target="${1:-}"
if [[ -z "$target" || "$target" == list ]]; then
  echo "usage: scripts/fuzz.sh <target> [seconds] [libFuzzer flags...]; targets: $targets" >&2
  exit 2
fi
seconds="${2:-300}"
shift $(( $# >= 2 ? 2 : 1 ))

out="$root/target/libfuzzer"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks --cfg fuzzing"
# An explicit --target keeps RUSTFLAGS off build scripts and proc-macros (they must not be
# instrumented: nothing links libFuzzer into them).
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --locked -p fuzz-targets --features libfuzzer --bin libfuzzer \
  --target "$host" --target-dir "$out"

mkdir -p "$out/corpus/$target" "$out/crashes"
FUZZ_TARGET="$target" "$out/$host/release/libfuzzer" \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$out/crashes/$target-" "$@" \
  "$out/corpus/$target" "fuzz/corpus/$target"
