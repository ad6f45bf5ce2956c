"""Benchmark the named vocabularies with and without the prompt cache: per-image time, time per chunk.

Per vocabulary (``coco``: one chunk; ``lvis``: 14 chunks, each a full encoder and decoder pass
on the image's shared backbone features), every image is answered by the same model twice in a
row, once with the prompt cache (warm: the vocabulary was encoded before) and once without it
(``prompt_cache_mb: 0``: BERT runs for every chunk of every request), so both see the same load
on a shared host; the ratio of their medians is the figure to quote.

    python -m scripts.benchmark --prompt-modes                  # full Swin-T at 800 px (over an hour on 2 busy CPU cores)
    python -m scripts.benchmark --prompt-modes --requests 2 --resize-short 320 --resize-max 512   # a smoke run

Writes ``prompt_modes.json`` and ``prompt_modes.md`` into ``--out``.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gdino_serve.demo_checkpoint import random_pipeline
from gdino_serve.tools.benchmark import cycle, interleaved
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from handler.core.pipeline import DetectionPipeline
from handler.core.prompt_cache import PromptCache

logger = logging.getLogger("benchmark_prompts")

VOCABULARIES = ("coco", "lvis")


def without_cache(pipeline: DetectionPipeline) -> DetectionPipeline:
    """The same model and settings, with a prompt cache that keeps nothing."""
    detector = copy.copy(pipeline.detector)
    detector.prompt_cache = PromptCache(0)
    return DetectionPipeline(detector, pipeline.settings)


def bench_vocabulary(
    pipeline: DetectionPipeline, images: Sequence[bytes], vocabulary: str, count: int
) -> dict[str, Any]:
    """Median per-image time with the (warm) cache and without it, alternated image by image."""
    uncached = without_cache(pipeline)
    requests = [{"image": image, "vocabulary": vocabulary} for image in images]
    chunks = len(pipeline.prepare(requests[0]).prompt.chunks)
    pipeline.run(requests[:1])  # encodes the vocabulary once: the cached runs below only read it
    with_cache, no_cache = interleaved(
        [lambda r=r: pipeline.run([r]) for r in cycle(requests, count)],
        [lambda r=r: uncached.run([r]) for r in cycle(requests, count)],
    )
    cached_ms, uncached_ms = with_cache["p50_ms"], no_cache["p50_ms"]
    return {
        "chunks": chunks,
        "images": count,
        "cached_ms_per_image": cached_ms,
        "uncached_ms_per_image": uncached_ms,
        "uncached_to_cached": uncached_ms / cached_ms,
        "cached_ms_per_chunk": cached_ms / chunks,
        "uncached_ms_per_chunk": uncached_ms / chunks,
        "text_encoding_ms_per_chunk": (uncached_ms - cached_ms) / chunks,
    }


def report(results: dict[str, Any]) -> str:
    """The Markdown table of one run."""
    lines = [
        f"Prompt cache, {results['config']} at {results['resize'][0]} px on {results['device']} "
        f"(median of {results['vocabularies']['coco']['images']} images per cell, cached and uncached alternated):",
        "",
        "| vocabulary | chunks | with cache, ms/image | without, ms/image | without / with | ms per chunk (with) "
        "| text encoding, ms per chunk |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["vocabularies"].items():
        lines.append(
            f"| `{name}` | {row['chunks']} | {row['cached_ms_per_image']:.0f} | {row['uncached_ms_per_image']:.0f} "
            f"| {row['uncached_to_cached']:.2f} | {row['cached_ms_per_chunk']:.0f} "
            f"| {row['text_encoding_ms_per_chunk']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def run_prompt_benchmark(config: Path, resize: tuple[int, int], count: int, out: Path) -> dict[str, Any]:
    """Measure each vocabulary with and without the cache; write ``prompt_modes.json`` and ``.md`` into ``out``."""
    started = time.perf_counter()
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    pipeline = random_pipeline(config, device, resize_short=resize[0], resize_max=resize[1])
    images = [photo_bytes(name) for name in PHOTOS]
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
        "config": config.name,
        "resize": list(resize),
        "vocabularies": {},
    }
    for vocabulary in VOCABULARIES:
        logger.info("%s: %d images with and without the prompt cache", vocabulary, count)
        results["vocabularies"][vocabulary] = bench_vocabulary(pipeline, images, vocabulary, count)
        logger.info("%s: %s", vocabulary, results["vocabularies"][vocabulary])
    results["benchmark_wall_s"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "prompt_modes.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "prompt_modes.md").write_text(report(results))
    logger.info("wrote %s\n%s", out / "prompt_modes.md", report(results))
    return results
