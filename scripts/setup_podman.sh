#!/usr/bin/env bash
# Install what the container test needs when it is missing: podman, runc (crun fails on hybrid
# cgroups) and debootstrap (the test makes its Debian base image itself: no registry is needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} (the container test builds and runs the image with Podman)" >&2
  apt_install podman runc debootstrap
fi
