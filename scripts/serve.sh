#!/usr/bin/env bash
# Set up and serve GroundingDINO on http://127.0.0.1:8080 (Ctrl-C stops it).
# Official Swin-T weights when they can be downloaded; otherwise a LOUDLY labelled random-weight
# demo checkpoint, so the whole service still runs (its detections are meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh requirements.txt
python scripts/setup_bert.py
checkpoint="$(python scripts/download_weights.py --demo-fallback)"
python scripts/build_mar.py --checkpoint "$checkpoint" --export-path model_store
exec python scripts/torchserve_runner.py --model-store model_store --bind "${BIND_ADDRESS:-127.0.0.1}" --inference-port 8080 --management-port 8081 --metrics-port 8082
