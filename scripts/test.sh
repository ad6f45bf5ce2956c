#!/usr/bin/env bash
# Set up everything the tests need (venv, Java, tokenizer files, Podman, Label Studio, Chromium), lint, and run the tests.
# Extra args go to pytest, e.g. `bash scripts/test.sh -m "not integration"` for the fast unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh requirements-test.txt
python -m scripts.setup_bert
bash scripts/setup_podman.sh
bash scripts/setup_kserve_sdk.sh
bash scripts/setup_labelstudio.sh
ruff check .
ruff format --check .
exec python -m pytest "$@"
