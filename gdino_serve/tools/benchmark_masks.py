"""The mask stage's cost next to detection: per image and per box, for each mask model.

In process, full-size random weights throughout (the Swin-T GroundingDINO checkpoint and each
mask model's published architecture), one 1200 x 800 photo at the service's 800 px input. Each
request runs the whole pipeline (``run_timed``) with ``masks`` and ``max_detections`` of 1 and of
``boxes``; the mask stage's time of the two gives the per-image cost (the image embedding and
preprocessing) and the per-box cost (one prompt and mask-decoder call, upsampling to the image
size, RLE encoding). Each is reported in ms and as a ratio to the detection time (the ``model``
stage) of the same request, so a run on a busy host still compares like with like.

    python -m scripts.benchmark --mask-models facebook/sam2.1-hiera-tiny facebook/sam-vit-base
"""

from __future__ import annotations

import io
import json
import logging
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from gdino_serve.demo_checkpoint import random_pipeline
from gdino_serve.demo_sam_model import cached_random_sam_model
from gdino_serve.paths import FULL_CONFIG
from gdino_serve.tools.sample_photos import photo_bytes

logger = logging.getLogger("benchmark_masks")

PHOTO_SIZE = (1200, 800)  # the coffee photo upscaled: the model input is 1200 x 800 (short side 800)
CLASSES = ["cup", "saucer", "spoon", "table"]


def photo() -> bytes:
    image = Image.open(io.BytesIO(photo_bytes("coffee.png"))).convert("RGB").resize(PHOTO_SIZE, Image.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stage_times(pipeline: Any, image: bytes, boxes: int) -> dict[str, float]:
    """The model and masks stage times (ms) of one request asking for ``boxes`` masks."""
    request = {"image": image, "classes": CLASSES, "box_threshold": 0.0, "masks": True, "max_detections": boxes}
    result = pipeline.run_timed([request])
    (outcome,) = result.outcomes
    found = len(getattr(outcome, "masks", None) or ())
    if found != boxes:
        raise RuntimeError(f"asked for {boxes} masks, got {found}: {outcome}")
    return {"model_ms": result.timer.totals_ms["model"], "masks_ms": result.timer.totals_ms["masks"]}


def measure(name: str, boxes: int, repeats: int) -> dict[str, Any]:
    """One mask model's per-image and per-box cost, and their ratios to the detection time."""
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    pipeline = random_pipeline(FULL_CONFIG, device, mask_model=str(cached_random_sam_model(name)))
    image = photo()
    stage_times(pipeline, image, 1)  # warm-up
    runs = {count: [stage_times(pipeline, image, count) for _ in range(repeats)] for count in (1, boxes)}
    median = {
        count: {key: statistics.median(run[key] for run in found) for key in ("model_ms", "masks_ms")}
        for count, found in runs.items()
    }
    per_box = (median[boxes]["masks_ms"] - median[1]["masks_ms"]) / (boxes - 1)
    per_image = median[1]["masks_ms"] - per_box
    detection = statistics.median(run["model_ms"] for found in runs.values() for run in found)
    return {
        "mask_model": name,
        "boxes": boxes,
        "detection_ms": detection,
        "masks_ms": {str(count): value["masks_ms"] for count, value in median.items()},
        "per_image_ms": per_image,
        "per_box_ms": per_box,
        "per_image_ratio": per_image / detection,
        "per_box_ratio": per_box / detection,
        f"masks_{boxes}_boxes_ratio": median[boxes]["masks_ms"] / median[boxes]["model_ms"],
    }


def table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    rows = [
        "| mask model | detection (ms) | mask stage per image (ms, x detection) | per box (ms, x detection) "
        "| masks of N boxes (x detection) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        n = r["boxes"]
        rows.append(
            f"| {r['mask_model']} | {r['detection_ms']:.0f} | {r['per_image_ms']:.0f} ({r['per_image_ratio']:.2f}x) "
            f"| {r['per_box_ms']:.0f} ({r['per_box_ratio']:.3f}x) | N={n}: {r[f'masks_{n}_boxes_ratio']:.2f}x |"
        )
    return "\n".join(rows) + "\n"


def run_mask_benchmark(names: Sequence[str], out: Path, boxes: int = 8, repeats: int = 1) -> list[dict[str, Any]]:
    """Measure each mask model; write ``masks.json`` and ``masks.md`` into ``out``."""
    results = []
    for name in names:
        logger.info("mask model %s: %d request(s) with 1 and with %d boxes", name, repeats, boxes)
        results.append(measure(name, boxes, repeats))
    out.mkdir(parents=True, exist_ok=True)
    (out / "masks.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "masks.md").write_text(table(results))
    logger.info("mask stage:\n%s", table(results))
    return results
