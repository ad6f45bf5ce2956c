#!/usr/bin/env bash
# Set up and serve GroundingDINO on http://127.0.0.1:8080 (Ctrl-C or SIGTERM stops it); with
# --engine ray, Ray Serve on http://127.0.0.1:8000 (docs/scaling.md).
# Options go to gdino-serve (gdino_serve/serve.py: --engine, --checkpoint, --hf-model, --workers-per-gpu, ...).
# Official Swin-T weights when they can be downloaded; otherwise a LOUDLY labelled random-weight
# demo checkpoint, so the whole service still runs (its detections are meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh serve
python -m scripts.setup_bert
# Model store built once per checkpoint (build/model-store-cache), workers = GPUs x $WORKERS_PER_GPU.
exec gdino-serve "$@"
