#!/usr/bin/env bash
# Install what the container test needs when it is missing: podman, runc (crun fails on hybrid
# cgroups) and debootstrap (the test makes its Debian base image itself: no registry is needed).
set -euo pipefail
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} (the container test builds and runs the image with Podman)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends podman runc debootstrap
fi
