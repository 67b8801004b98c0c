#!/usr/bin/env bash
# Builds the release binaries the way .goreleaser.yaml does (cargo zigbuild --release --locked
# --package=terraform-provider-gitlabrunner --target T) for every target of .goreleaser.yaml that
# links here (read from it, so the two cannot drift apart):
#   x86_64-unknown-linux-gnu.2.17  aarch64-unknown-linux-gnu.2.17   (glibc baseline: 2.17)
#   x86_64-pc-windows-gnu          aarch64-pc-windows-gnullvm
# macOS binaries need Apple's SDK to link (Security, CoreFoundation): they are built on a macOS
# runner (see .goreleaser.yaml and docs/guides/compatibility.md); `--check-macos` at least
# type-checks both macOS targets here.
#
# Each binary is checked with `file`; Linux ones must not need a GLIBC_ symbol version above the
# baseline (readelf); the x86_64 Linux one runs `--version` here, the aarch64 one under
# qemu-user when `qemu-aarch64` and the aarch64 C library are installed
# (Debian: apt-get install qemu-user libc6-arm64-cross). Prints sizes and times.
# Binaries land in dist/cross/<target>/terraform-provider-gitlabrunner_v<VERSION>[.exe].
# The builds are heavy (release, thin LTO, aws-lc's and mimalloc's C): run one at a time on small
# machines. The Windows targets need `.cargo/config.toml`'s CFLAGS_<target> (mimalloc under zig).
# Usage: scripts/cross-build.sh [--check-macos] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

glibc_baseline="2.17"
name="terraform-provider-gitlabrunner"
check_macos=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --check-macos) check_macos=1 ;;
    -*) echo "usage: $0 [--check-macos] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
# The `targets:` list of .goreleaser.yaml's build.
release_targets="$(sed -n '/^    targets:/,/^    [a-z]/{s/^      - //p}' .goreleaser.yaml)"
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(grep -v 'apple-darwin' <<<"$release_targets")
mapfile -t macos_targets < <(grep 'apple-darwin' <<<"$release_targets")
[ ${#targets[@]} -gt 0 ] && [ ${#macos_targets[@]} -gt 0 ] || {
  echo "cross-build: no targets found in .goreleaser.yaml" >&2; exit 1; }

triple() { echo "${1%%.*}"; } # zigbuild's glibc suffix off: x86_64-unknown-linux-gnu.2.17 -> x86_64-unknown-linux-gnu
rust_targets=()
for target in "${targets[@]}"; do rust_targets+=("$(triple "$target")"); done
[ "$check_macos" = 0 ] || rust_targets+=("${macos_targets[@]}")
bash scripts/install-cross-tools.sh "${rust_targets[@]}"
export PATH="$root/tools/cross/bin:$root/tools/cross/ziglang:$PATH"

version="$(sed -n '/^\[workspace.package\]/,/^\[/{s/^version = "\(.*\)"/\1/p}' Cargo.toml)"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
out="$root/dist/cross"
failures=0
summary=()
fail() { echo "cross-build: $1: $2" >&2; failures=$((failures + 1)); }

# Highest GLIBC_x.y a Linux binary asks for (version needs), or "none" when it asks for none.
highest_glibc() {
  readelf --version-info --wide "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1 | grep . || echo none
}

for target in "${targets[@]}"; do
  rust_target="$(triple "$target")"
  echo "== $target" >&2
  start=$SECONDS
  if ! cargo-zigbuild zigbuild --release --locked "--package=$name" --target "$target"; then
    fail "$target" "build failed"
    continue
  fi
  seconds=$((SECONDS - start))
  suffix=""
  case "$rust_target" in *windows*) suffix=".exe" ;; esac
  built="$target_dir/$rust_target/release/$name$suffix"
  mkdir -p "$out/$rust_target"
  binary="$out/$rust_target/${name}_v${version}$suffix"
  install -m 0755 "$built" "$binary"

  description="$(file -b "$binary")"
  case "$rust_target" in
    x86_64-unknown-linux-gnu) expected="ELF 64-bit LSB*x86-64*dynamically linked*" ;;
    aarch64-unknown-linux-gnu) expected="ELF 64-bit LSB*ARM aarch64*dynamically linked*" ;;
    x86_64-pc-windows-*) expected="PE32+ executable*x86-64*" ;;
    aarch64-pc-windows-*) expected="PE32+ executable*Aarch64*" ;;
    *) expected="*" ;;
  esac
  # shellcheck disable=SC2053 # $expected is a glob on purpose
  [[ "$description" == $expected ]] || fail "$target" "unexpected binary: $description"
  echo "file: $description" >&2
  if [[ "$rust_target" == *windows* ]] && dlls="$(objdump -p "$binary" 2>/dev/null | sed -n 's/^\tDLL Name: //p' | sort -u | paste -sd" ")" && [ -n "$dlls" ]; then
    echo "DLLs: $dlls" >&2
  fi

  glibc="-"
  if [[ "$rust_target" == *linux-gnu ]]; then
    glibc="$(highest_glibc "$binary")"
    if [ "$glibc" != none ] && [ "$(printf '%s\n%s\n' "$glibc" "$glibc_baseline" | sort -V | tail -n 1)" != "$glibc_baseline" ]; then
      fail "$target" "needs GLIBC_$glibc, above the baseline $glibc_baseline"
    fi
    echo "highest GLIBC_ symbol version: $glibc (baseline $glibc_baseline)" >&2
  fi

  ran="not run"
  runner=()
  case "$rust_target" in
    "$(rustc -vV | sed -n 's/^host: //p')") runner=() ; ran="native" ;;
    aarch64-unknown-linux-gnu)
      if command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
        runner=(qemu-aarch64 -L /usr/aarch64-linux-gnu); ran="qemu-aarch64"
      else
        echo "cross-build: qemu-aarch64 or the aarch64 C library missing: not run (apt-get install qemu-user libc6-arm64-cross)" >&2
      fi ;;
  esac
  if [ "$ran" != "not run" ]; then
    if printed="$("${runner[@]}" "$binary" --version 2>&1)" && [[ "$printed" == *" $version" ]]; then
      echo "--version ($ran): $printed" >&2
    else
      fail "$target" "--version ($ran) failed: $printed"
    fi
  fi
  size="$(stat -c %s "$binary")"
  summary+=("$(printf '%-32s %6.1f MiB  %4d s  glibc %-5s  ran: %s' "$target" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$seconds" "$glibc" "$ran")")
done

if [ "$check_macos" = 1 ]; then
  for target in "${macos_targets[@]}"; do
    echo "== $target (cargo check only: linking needs the macOS SDK)" >&2
    start=$SECONDS
    if cargo-zigbuild check --locked "--package=$name" --target "$target"; then
      summary+=("$(printf '%-32s checked     %4d s' "$target" "$((SECONDS - start))")")
    else
      fail "$target" "cargo check failed"
    fi
  done
fi

echo "== summary (binaries in $out)" >&2
printf '%s\n' "${summary[@]}" >&2
if [ "$failures" -gt 0 ]; then
  echo "cross-build: $failures failure(s)" >&2
  exit 1
fi
