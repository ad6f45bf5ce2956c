#!/usr/bin/env bash
# Set up what every test needs (venv, Java, tokenizer files), lint, prove the client runs without
# torch, and run the tests. Heavier set-up (Podman, KServe SDK, Label Studio, Chromium) runs only
# when a selected test needs it (tests/support/setup_steps.py).
# Extra args go to pytest, e.g. `bash scripts/test.sh -m "not integration"` for the fast unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh dev
python -m scripts.setup_bert
ruff check .
ruff format --check .
bash scripts/test_client.sh
exec python -m pytest "$@"
