"""Cold start, archive size and one-request latency of a model served by a real TorchServe.

    python -m gdino_serve.tools.measure_serving --hf-model build/full-hf-grounding-dino   # transformers back end
    python -m gdino_serve.tools.measure_serving                                          # upstream, full Swin-T

Builds the ``.mar`` (its size), starts TorchServe and times start to READY (cold start), then
sends ``--requests`` requests one at a time (a real photo at the service's default 800 px
model input, a five-class caption) and reports their p50/p95 latency. Random weights are fine:
the work per request does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gdino_serve.demo_checkpoint import cached_random_checkpoint
from gdino_serve.model_archive import build_hf_mar, build_mar
from gdino_serve.paths import FULL_CONFIG
from gdino_serve.tools.benchmark import CAPTION, post, summarise
from gdino_serve.tools.sample_photos import photo_bytes
from gdino_serve.torchserve_runner import TorchServe

logger = logging.getLogger("measure_serving")


def measure(hf_model: Path | None, requests: int, store: Path) -> dict[str, Any]:
    """Archive size, cold start and sequential request latency of one model."""
    name = "measured"
    overrides = {"batchSize": 1, "minWorkers": 1, "maxWorkers": 1}
    if hf_model:
        mar = build_hf_mar(hf_model, store, model_name=name, overrides=overrides)
    else:
        mar = build_mar(cached_random_checkpoint(FULL_CONFIG), store, FULL_CONFIG, model_name=name, overrides=overrides)
    server = TorchServe(store, name)
    started = time.perf_counter()
    server.start(timeout=900)
    result: dict[str, Any] = {"mar_mb": mar.stat().st_size / 1e6, "cold_start_s": time.perf_counter() - started}
    try:
        url = f"{server.url}/predictions/{name}"
        payload = {"image": photo_bytes("astronaut.png"), "caption": CAPTION}
        post(url, payload)  # the first request after READY pays for lazy allocations
        began = time.perf_counter()
        latencies = [post(url, payload) for _ in range(requests)]
        result["sequential"] = summarise(latencies, time.perf_counter() - began, requests)
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hf-model", type=Path, help="Hugging Face folder (default: upstream full Swin-T, random)")
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="measure-store-") as store:
        result = measure(args.hf_model, args.requests, Path(store))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
