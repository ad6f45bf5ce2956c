#!/usr/bin/env bash
# Set up everything the tests need (venv, Java, tokenizer files, Podman) and run them. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh requirements-test.txt
python scripts/setup_bert.py
bash scripts/setup_podman.sh
exec python -m pytest "$@"
