"""Benchmark a back end against the upstream (PyTorch) one: images/s of the bare model call and agreement.

One process loads both back ends on the same random-weight checkpoint (the ``openvino`` one
converted once and cached, ``demo_checkpoint.converted_random_checkpoint``), then calls them
alternately, image by image, on the same prepared inputs (the sample photos, one caption), so both
see the same load on a shared host. Each call is one image and one caption, encoder and decoder:
what a worker runs per request. The first answer of each back end per image is compared box to box
(the top 100 queries matched at IoU > 0.99, ``compare_detections.query_agreement``).

    python -m scripts.benchmark --compare-backends --size 800            # full Swin-T, FP32 (about 10 min)
    python -m scripts.benchmark --compare-backends --size 800 --openvino-weights int8

Writes ``backends.json`` into ``--out`` and ends with ``images/s ratio openvino/upstream: N``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gdino_serve.demo_checkpoint import cached_random_checkpoint, converted_random_checkpoint
from gdino_serve.paths import BERT_DIR, REPO
from gdino_serve.tools.benchmark import cycle, interleaved
from gdino_serve.tools.compare_detections import query_agreement
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from handler.backends import load_pipeline
from handler.backends.openvino.model_files import CAPTION_BIN
from handler.core.detector import Detector
from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings

logger = logging.getLogger("benchmark_backends")

CAPTION = "a person . a cat . a cup . a rocket . a motorcycle ."
TOP, IOU = 100, 0.99
LONG_SIDE = 1333 / 800  # the service's resize_max / resize_short


def openvino_pipeline(config: Path, weights: str, **settings: Any) -> DetectionPipeline:
    """The random checkpoint of ``config``, converted (``weights``: float32 or int8), on the openvino back end."""
    folder = converted_random_checkpoint(config, weights)
    own = HandlerSettings(backend="openvino", model_config=folder.name, bert_dir=str(BERT_DIR), **settings)
    return load_pipeline(folder.parent, folder / CAPTION_BIN, own, torch.device("cpu"))


def model_call(detector: Detector, image: torch.Tensor, answers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """One image and one caption through ``detector``; the answer is kept for the agreement check."""
    scores = detector.decode(detector.encode_images(image[None]), [0], [CAPTION])
    answers.append((scores.probs[0], scores.boxes[0]))


def run_backend_benchmark(config: Path, size: int, weights: str, count: int, out: Path) -> dict[str, Any]:
    """Time ``count`` alternating calls per back end; write ``backends.json`` into ``out``."""
    started = time.perf_counter()
    resize = {"resize_short": size, "resize_max": round(size * LONG_SIDE), "warmup": False}
    loaded = time.perf_counter()
    upstream = load_pipeline(
        REPO,
        cached_random_checkpoint(config),
        HandlerSettings(model_config=str(config.relative_to(REPO)), **resize),
        torch.device("cpu"),
    )
    upstream_load_s, loaded = time.perf_counter() - loaded, time.perf_counter()
    openvino = openvino_pipeline(config, weights, **resize)
    openvino_load_s = time.perf_counter() - loaded
    images = [upstream.prepare({"image": photo_bytes(name), "caption": CAPTION}).image for name in PHOTOS]
    answers: tuple[list, list] = ([], [])
    calls: list[list[Callable[[], None]]] = [
        [lambda i=image, d=pipeline.detector, a=kept: model_call(d, i, a) for image in cycle(images, count)]
        for pipeline, kept in zip((upstream, openvino), answers)
    ]
    first_s = []
    for pipeline in (upstream, openvino):  # warm-up: first-call allocations and kernel preparation
        began = time.perf_counter()
        model_call(pipeline.detector, images[0], [])
        first_s.append(time.perf_counter() - began)
    logger.info("timing %d calls per back end at %s, alternated", count, list(images[0].shape[1:]))
    upstream_speed, openvino_speed = interleaved(*calls)
    agreement = [
        query_agreement(reference, candidate, TOP, IOU)
        for reference, candidate in zip(answers[0][: len(images)], answers[1][: len(images)])
    ]
    results = {
        "device": f"CPU, {torch.get_num_threads()} threads",
        "config": config.name,
        "input_sizes": sorted({tuple(image.shape[1:]) for image in images}),
        "openvino_weights": weights,
        "load_s": {"upstream": upstream_load_s, "openvino": openvino_load_s},
        "first_call_s": {"upstream": first_s[0], "openvino": first_s[1]},
        "upstream": upstream_speed,
        "openvino": openvino_speed,
        "ratio": openvino_speed["images_per_s"] / upstream_speed["images_per_s"],
        "agreement": [{"image": name, **vars(found)} for name, found in zip(PHOTOS, agreement)],
        "benchmark_wall_s": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(json.dumps(results, indent=2) + "\n")
    for row in results["agreement"]:
        logger.info("agreement %s", row)
    logger.info("upstream %s; openvino (%s weights) %s", upstream_speed, weights, openvino_speed)
    return results
