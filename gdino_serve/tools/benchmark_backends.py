"""Benchmark a faster variant against the upstream (PyTorch) back end: images/s of the bare model call and agreement.

Two candidates: ``openvino`` (the compiled CPU back end, converted once and cached,
``demo_checkpoint.converted_random_checkpoint``) and ``compiled`` (the upstream back end with
``compile_mode: default``, ``torch.compile``'s inductor). One process loads the upstream back end and
the candidate on the same random-weight checkpoint, then calls them alternately, image by image, on
the same prepared inputs (the sample photos, one caption), so both see the same load on a shared
host. Each call is one image and one caption, encoder and decoder: what a worker runs per request.

By default every photo is scaled to cover ``size`` x long side (800x1333 at ``--size 800``) and
centre-cropped to it, so every call has the same input size; ``--photo-sizes`` keeps each photo's
aspect ratio instead (800x800 to 800x1202). Each distinct input size is called once per variant
before timing (OpenVINO prepares its dynamic-shape kernels and inductor compiles at the first call of
a size; those first calls are reported apart). The first timed answer of each variant per image is
compared box to box (the top 100 queries matched at IoU > 0.99, ``compare_detections.query_agreement``).

    python -m scripts.benchmark --compare-backends --size 800                         # openvino FP32 (about 8 min)
    python -m scripts.benchmark --compare-backends --size 800 --openvino-weights int8
    python -m scripts.benchmark --compare-backends --size 800 --candidate compiled

Writes ``backends.json`` into ``--out`` and ends with ``images/s ratio <candidate>/upstream: N``.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from gdino_serve.demo_checkpoint import converted_pipeline, converted_random_checkpoint, random_pipeline
from gdino_serve.tools.benchmark import cycle, interleaved
from gdino_serve.tools.compare_detections import query_agreement
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from handler.core.detector import Detector
from handler.core.pipeline import DetectionPipeline

logger = logging.getLogger("benchmark_backends")

CAPTION = "a person . a cat . a cup . a rocket . a motorcycle ."
TOP, IOU = 100, 0.99


def candidate_pipeline(candidate: str, config: Path, weights: str, **settings: Any) -> DetectionPipeline:
    """The variant measured against the upstream back end (one of ``benchmark.CANDIDATES``): the random checkpoint
    of ``config`` converted (``weights``: float32 or int8) for the openvino back end, or compiled."""
    if candidate == "openvino":
        return converted_pipeline(converted_random_checkpoint(config, weights), **settings)
    return random_pipeline(config, compile_mode="default", **settings)


def cropped_photo(name: str, height: int, width: int) -> bytes:
    """Photo ``name`` scaled to cover ``width`` x ``height`` and centre-cropped to exactly that (PNG)."""
    photo = Image.open(io.BytesIO(photo_bytes(name))).convert("RGB")
    scale = max(width / photo.width, height / photo.height)
    photo = photo.resize((max(width, round(photo.width * scale)), max(height, round(photo.height * scale))))
    left, top = (photo.width - width) // 2, (photo.height - height) // 2
    buffer = io.BytesIO()
    photo.crop((left, top, left + width, top + height)).save(buffer, format="PNG")
    return buffer.getvalue()


def model_call(detector: Detector, image: torch.Tensor, answers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """One image and one caption through ``detector``; the answer is kept for the agreement check."""
    scores = detector.decode(detector.encode_images(image[None]), [0], [CAPTION])
    answers.append((scores.probs[0], scores.boxes[0]))


def first_calls_s(detector: Detector, images: list[torch.Tensor]) -> dict[str, float]:
    """Seconds of the first call at each distinct input size (warm-up: allocations, kernels, compilation)."""
    seconds = {}
    for image in images:
        size = "x".join(map(str, image.shape[1:]))
        if size not in seconds:
            began = time.perf_counter()
            model_call(detector, image, [])
            seconds[size] = time.perf_counter() - began
    return seconds


def run_backend_benchmark(
    config: Path,
    resize: tuple[int, int],
    weights: str,
    count: int,
    out: Path,
    candidate: str = "openvino",
    photo_sizes: bool = False,
) -> dict[str, Any]:
    """Time ``count`` alternating calls of upstream and ``candidate`` with inputs of ``resize`` (short
    side, long side); write ``backends.json`` into ``out``."""
    started = time.perf_counter()
    sizes = {"resize_short": resize[0], "resize_max": resize[1]}
    upstream = random_pipeline(config, **sizes)
    upstream_load_s, loaded = time.perf_counter() - started, time.perf_counter()
    other = candidate_pipeline(candidate, config, weights, **sizes)
    candidate_load_s = time.perf_counter() - loaded
    photos = [photo_bytes(name) if photo_sizes else cropped_photo(name, *resize) for name in PHOTOS]
    images = [upstream.prepare({"image": photo, "caption": CAPTION}).image for photo in photos]
    first_s = {"upstream": first_calls_s(upstream.detector, images), candidate: first_calls_s(other.detector, images)}
    answers: tuple[list, list] = ([], [])
    calls: list[list[Callable[[], None]]] = [
        [lambda i=image, d=pipeline.detector, a=kept: model_call(d, i, a) for image in cycle(images, count)]
        for pipeline, kept in zip((upstream, other), answers)
    ]
    logger.info("timing %d calls per variant at %s, alternated", count, sorted(first_s["upstream"]))
    upstream_speed, candidate_speed = interleaved(*calls)
    agreement = [
        query_agreement(reference, found, TOP, IOU)
        for reference, found in zip(answers[0][: len(images)], answers[1][: len(images)])
    ]
    results = {
        "device": f"CPU, {torch.get_num_threads()} threads",
        "config": config.name,
        "candidate": candidate,
        "input_sizes": sorted(first_s["upstream"]),
        "openvino_weights": weights if candidate == "openvino" else None,
        "load_s": {"upstream": upstream_load_s, candidate: candidate_load_s},
        "first_call_s": first_s,
        "upstream": upstream_speed,
        candidate: candidate_speed,
        "ratio": candidate_speed["images_per_s"] / upstream_speed["images_per_s"],
        "agreement": [{"image": name, **vars(found)} for name, found in zip(PHOTOS, agreement)],
        "benchmark_wall_s": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(json.dumps(results, indent=2) + "\n")
    for row in results["agreement"]:
        logger.info("agreement %s", row)
    logger.info("upstream %s; %s %s", upstream_speed, candidate, candidate_speed)
    return results
