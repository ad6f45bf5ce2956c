#!/usr/bin/env bash
# The KServe SDK in its own venv (build/kserve-sdk) for the manifest check; reused while
# deploy/kserve/requirements-sdk.txt is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
venv=build/kserve-sdk
requirements=deploy/kserve/requirements-sdk.txt
if ! cmp -s "$requirements" "$venv/requirements-sdk.txt" 2>/dev/null; then
  echo "setup: KServe SDK venv in $venv (manifest check)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  retry "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements-sdk.txt"
fi
