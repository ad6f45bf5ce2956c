#!/usr/bin/env bash
# The GPU check (docs/performance.md, "GPU"): the CUDA-gated tests and the GPU benchmark in one call
# of the device tool's `run` on a lent GPU machine (Python 3.12, its own torch, no network).
#   bash scripts/gpu_check.sh --dry-run [--offline]
#       here: fetch the wheels that travel (cached in build/gpu-check-wheels; --offline fetches
#       nothing), print the run call (command, carry, timeout_s), the wheels with their sizes and
#       the size of what travels; exit 0 only when it fits (gdino_serve/tools/gpu_check_plan.py)
#   bash scripts/gpu_check.sh --out DIR
#       on the lent machine (the printed command): install the carried wheels into a folder put
#       first on PYTHONPATH (torch stays the machine's), then run the check
#       (gdino_serve/tools/gpu_check.py): DIR/gpu_check.json, DIR/gpu_check.log, DIR/cuda_tests.xml
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage="usage: bash scripts/gpu_check.sh --dry-run [--offline] | --out DIR"
case "${1:-}" in
  --dry-run)
    shift
    exec "${PYTHON:-.venv/bin/python}" -m gdino_serve.tools.gpu_check_plan "$@" ;;
  --out)
    [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
    out="$2" ;;
  *)
    echo "$usage" >&2
    exit 2 ;;
esac

mkdir -p "$out"
exec > >(tee -a "$out/gpu_check.log") 2>&1
python="${PYTHON:-python3}"  # the lent machine's python3 holds its torch
wheels="${GPU_CHECK_WHEELS:-build/gpu-check-wheels}"
compgen -G "$wheels/*.whl" >/dev/null || { echo "gpu_check: no wheels in $wheels (carry it: see --dry-run)" >&2; exit 2; }
site="$(mktemp -d /tmp/gpu-check-site.XXXXXX)"
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
echo "gpu_check: $(find "$wheels" -name '*.whl' | wc -l) wheels installed into $site in $SECONDS s"
"$python" -m gdino_serve.tools.gpu_check --out "$out" --spent-s "$SECONDS"
