#!/usr/bin/env bash
# The client's tests in a venv with only the `client` extra and pytest: proof that gdino_client needs
# no torch (build/client-venv, reused while the requirements are unchanged).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/retry_downloads.sh
venv=build/client-venv
stamp="$venv/.installed-$(cat requirements-client.txt requirements-test.txt pyproject.toml "$0" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: client-only venv in $venv (no torch)" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  retry "$venv/bin/python" -m pip install -q --upgrade pip
  # The client's own test needs pytest (pycocotools, the real reader of its COCO export, is a client requirement).
  retry "$venv/bin/python" -m pip install -q ".[client]" $(grep -E '^pytest==' requirements-test.txt)
  touch "$stamp"
fi
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "test_client: torch is importable in $venv; the client check needs a venv without it" >&2
  exit 1
fi
# From the checkout (not the installed copy), so the tests see the code under test.
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/client
