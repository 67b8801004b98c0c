#!/usr/bin/env bash
# Builds the release archives locally in the layout .goreleaser.yaml produces, for the host
# platform only (goreleaser cannot be downloaded on the build machines):
#   dist/terraform-provider-gitlabrunner_<VERSION>_<os>_<arch>.zip   (holds terraform-provider-gitlabrunner_v<VERSION>)
#   dist/terraform-provider-gitlabrunner_<VERSION>_manifest.json
#   dist/terraform-provider-gitlabrunner_<VERSION>_SHA256SUMS         (+ .sig when GPG_FINGERPRINT is set)
# Usage: scripts/package.sh [--binary PATH] [--out DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="" out="$root/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done

version="$(sed -n '/^\[workspace.package\]/,/^\[/{s/^version = "\(.*\)"/\1/p}' "$root/Cargo.toml")"
[ -n "$version" ] || { echo "package.sh: no version in Cargo.toml [workspace.package]" >&2; exit 1; }
case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=windows ;; esac
case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported arch" >&2; exit 1 ;; esac

if [ -z "$binary" ]; then
  (cd "$root" && cargo build --release --locked -p terraform-provider-gitlabrunner)
  binary="$root/target/release/terraform-provider-gitlabrunner"
fi

name="terraform-provider-gitlabrunner"
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/${name}_v${version}"
zip="${name}_${version}_${os}_${arch}.zip"
rm -f "$out/$zip"
(cd "$stage" && python3 -m zipfile -c "$out/$zip" "${name}_v${version}")
cp "$root/terraform-registry-manifest.json" "$out/${name}_${version}_manifest.json"
(cd "$out" && sha256sum "$zip" "${name}_${version}_manifest.json" > "${name}_${version}_SHA256SUMS")
if [ -n "${GPG_FINGERPRINT:-}" ]; then
  gpg --batch --local-user "$GPG_FINGERPRINT" --output "$out/${name}_${version}_SHA256SUMS.sig" \
      --detach-sign "$out/${name}_${version}_SHA256SUMS"
fi
echo "$out/$zip"
