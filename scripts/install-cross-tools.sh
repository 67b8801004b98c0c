#!/usr/bin/env bash
# Installs what building for other platforms needs, the way .goreleaser.yaml builds (cargo-zigbuild):
#   - the Rust standard library for each target given (rustup target add; skipped when installed)
#   - zig 0.17.1 (PyPI wheel `ziglang`) and cargo-zigbuild 0.24.1 (PyPI wheel `cargo-zigbuild`,
#     the maintainer's prebuilt binary: nothing to compile) into <repo>/tools/cross
# zig is the C compiler and linker for every target: aws-lc-sys (the TLS crypto) and
# libmimalloc-sys (the allocator) build C even for `cargo check`. Only PyPI and the Rust toolchain server are contacted. Idempotent.
# Usage: scripts/install-cross-tools.sh [TARGET...]
# Then: PATH="<repo>/tools/cross/bin:<repo>/tools/cross/ziglang:$PATH" cargo-zigbuild {build|check|clippy} ...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/tools/cross"
zig_version="0.17.1"
zigbuild_version="0.24.1"

installed="$(rustup target list --installed)"
for target in "$@"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target" >&2
done

if [ "$("$dest/ziglang/zig" version 2>/dev/null)" != "$zig_version" ] ||
   [ "$("$dest/bin/cargo-zigbuild" --version 2>/dev/null)" != "cargo-zigbuild $zigbuild_version" ]; then
  echo "install-cross-tools: fetching zig $zig_version and cargo-zigbuild $zigbuild_version from PyPI" >&2
  rm -rf "$dest"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-warn-script-location \
    --target "$dest" "ziglang==$zig_version" "cargo-zigbuild==$zigbuild_version"
fi
echo "install-cross-tools: zig $("$dest/ziglang/zig" version), $("$dest/bin/cargo-zigbuild" --version)" >&2
