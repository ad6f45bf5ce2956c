#!/usr/bin/env bash
# Set up and serve GroundingDINO on http://127.0.0.1:8080 (Ctrl-C stops it).
# Official Swin-T weights when they can be downloaded; otherwise a LOUDLY labelled random-weight
# demo checkpoint, so the whole service still runs (its detections are meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh requirements.txt
python -m scripts.setup_bert
checkpoint="$(python -m scripts.download_weights --demo-fallback)"
python -m scripts.build_mar --checkpoint "$checkpoint" --export-path model_store
# Ports 8080 (inference), 8081 (management), 8082 (metrics): handler/defaults.py
exec python -m scripts.torchserve_runner --model-store model_store --bind "${BIND_ADDRESS:-127.0.0.1}"
