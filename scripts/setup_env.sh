#!/usr/bin/env bash
# Create .venv with the pinned requirements (skipped when unchanged), install this project into it
# (editable: the commands gdino-serve, gdino-annotate, gdino-playground, gdino-labelstudio-backend)
# and make sure Java 11+ exists for TorchServe (installs openjdk-17-jre-headless when missing).
# Usage: source scripts/setup_env.sh [serve|dev]   (default: serve; dev adds the test requirements)
# TORCH_CUDA=cu126 (or cu128) installs PyTorch's CUDA 12 build of the pinned torch first, for NVIDIA
# drivers older than 580 (scripts/torch_cuda.sh); best in a fresh .venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
source scripts/torch_cuda.sh
profile="${1:-serve}"
requirements=(-r requirements-client.txt -r requirements.txt)
[ "$profile" = dev ] && requirements+=(-r requirements-test.txt -r requirements-labelstudio.txt)

java_ok() { command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[1-9]|[2-9][0-9])'; }
if ! java_ok; then
  echo "setup: installing Java 17 (TorchServe's front end needs Java 11 or newer)" >&2
  apt_install openjdk-17-jre-headless
fi

torch_index="$(torch_index_url "${TORCH_CUDA:-cu130}")"
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$profile${torch_index:+-$TORCH_CUDA}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing the $profile requirements into .venv (first run: a few minutes)" >&2
  retry .venv/bin/python -m pip install -q --upgrade pip
  if [ -n "$torch_index" ]; then
    # requirements.txt's torch and torchvision from PyTorch's index (e.g. 2.14.1+cu126, which
    # satisfies torch==2.14.1 below), their CUDA 12 libraries with them.
    read -r -a torch_pins <<<"$(grep -E '^(torch|torchvision)==' requirements.txt | tr '\n' ' ')"
    retry .venv/bin/python -m pip install -q --index-url "$torch_index" "${torch_pins[@]}"
  fi
  retry .venv/bin/python -m pip install -q "${requirements[@]}"
  touch "$stamp"
fi
# The project itself, editable (the container installs it after copying the source in).
if [ -f pyproject.toml ]; then
  project_stamp=".venv/.project-$(cat pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -f "$project_stamp" ]; then
    retry .venv/bin/python -m pip install -q --no-deps -e .
    touch "$project_stamp"
  fi
fi
export PATH="$PWD/.venv/bin:$PATH"
