#!/usr/bin/env bash
# Create .venv with the pinned requirements (skipped when unchanged) and make sure Java 11+ exists
# for TorchServe (installs openjdk-17-jre-headless with apt-get when it is missing).
# Usage: source scripts/setup_env.sh [requirements file]   (default: requirements.txt)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
requirements="${1:-requirements.txt}"

java_ok() { command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[1-9]|[2-9][0-9])'; }
if ! java_ok; then
  echo "setup: installing Java 17 (TorchServe's front end needs Java 11 or newer)" >&2
  apt_install openjdk-17-jre-headless
fi

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  echo "setup: installing $requirements into .venv (first run: a few minutes)" >&2
  retry .venv/bin/python -m pip install -q --upgrade pip
  retry .venv/bin/python -m pip install -q -r "$requirements"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
