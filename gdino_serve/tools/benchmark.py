"""Benchmark the service end to end: bare model call, in-process pipeline and TorchServe over HTTP.

One run, one checkpoint (random weights in the official format), the same images throughout:
scikit-image's sample photos plus a 12-megapixel JPEG made from one of them. It reports
images/s and p50/p95 latency for each layer, the per-stage breakdown, the service/model latency
ratio, worker cold start and .mar size, float32 vs bfloat16 (speed and detection agreement),
and drafted vs full JPEG decoding; it writes results.json, results.md and results.png.

    python -m gdino_serve.tools.benchmark            # full Swin-T at 800 px (about 20-30 min on 2 CPU cores)
    python -m gdino_serve.tools.benchmark --quick    # smoke run (about 3 min)
    python -m gdino_serve.tools.benchmark --mask-models facebook/sam2.1-hiera-tiny facebook/sam-vit-base
                                                     # the mask stage only (gdino_serve/tools/benchmark_masks.py)
    python -m gdino_serve.tools.benchmark --prompt-modes  # vocabularies with and without the prompt cache
                                                     # (gdino_serve/tools/benchmark_prompts.py)
    python -m gdino_serve.tools.benchmark --compare-backends --size 800  # openvino vs upstream, images/s
                                                     # and agreement (gdino_serve/tools/benchmark_backends.py)
    python -m gdino_serve.tools.benchmark --compare-backends --size 800 --candidate compiled  # torch.compile

The same command runs on a GPU host unchanged (it then uses cuda:0 and also measures float16).
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import requests
import torch
from PIL import Image

from gdino_serve.demo_checkpoint import cached_random_checkpoint, random_pipeline
from gdino_serve.model_archive import build_mar
from gdino_serve.paths import FULL_CONFIG, REPO
from gdino_serve.tools.benchmark_masks import run_mask_benchmark
from gdino_serve.tools.benchmark_report import write_report
from gdino_serve.tools.compare_detections import mean_agreement, with_grey_level_noise
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from gdino_serve.torchserve_runner import TorchServe
from handler.backends.upstream.detector import UpstreamDetector
from handler.contract import defaults
from handler.core.batching import CallLimits, ModelInput, predict_batch
from handler.core.image_decode import decode_image
from handler.core.pipeline import DetectionPipeline
from handler.core.stage_timer import STAGES, StageTimer
from handler.frontends.http.replies import detections_body

logger = logging.getLogger("benchmark")

BIG_JPEG = "astronaut-4000x3000.jpg"
CAPTION = b"a person . a cat . a cup . a rocket . a motorcycle"
TOP = 10  # detections compared per image (float32 vs bfloat16, full vs drafted decode)
CANDIDATES = ("openvino", "compiled")  # --compare-backends: the OpenVINO back end, torch.compile (inductor)


@dataclass(frozen=True)
class Options:
    """What to run; ``--quick`` shrinks every knob so the run is a smoke test."""

    config: Path
    out: Path
    requests: int
    resize_short: int
    resize_max: int
    concurrency: tuple[int, ...]
    batch_sizes: tuple[int, ...]
    skip_http: bool
    batch_images: int
    noise_floor: bool
    mask_models: tuple[str, ...] = ()  # measure the mask stage of these mask models instead
    prompt_modes: bool = False  # measure the vocabularies with and without the prompt cache instead
    compare_backends: bool = False  # measure a faster variant (``candidate``) against the upstream back end instead
    openvino_weights: str = defaults.OPENVINO_DEFAULT_WEIGHTS  # the converted weights --compare-backends measures
    candidate: str = "openvino"  # the variant --compare-backends measures: openvino or compiled (torch.compile)
    photo_sizes: bool = False  # --compare-backends on each photo's own size, not all cropped to size x long side


def benchmark_images() -> dict[str, bytes]:
    """The sample photos as stored, plus a 12-megapixel JPEG (4000x3000) made from the astronaut."""
    images = {name: photo_bytes(name) for name in PHOTOS}
    big = Image.open(io.BytesIO(images["astronaut.png"])).convert("RGB").resize((4000, 3000), Image.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=90)
    images[BIG_JPEG] = buffer.getvalue()
    return images


def summarise(latencies_s: Sequence[float], wall_s: float, images: int) -> dict[str, float]:
    """images/s over the wall time, and latency percentiles in ms."""
    ordered = sorted(latencies_s)

    def percentile(q: float) -> float:
        return 1000.0 * ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"images_per_s": images / wall_s, "p50_ms": percentile(0.5), "p95_ms": percentile(0.95), "n": images}


def timed(calls: Sequence[Callable[[], Any]]) -> dict[str, float]:
    """Run ``calls`` one after another and summarise their latencies."""
    latencies = []
    start = time.perf_counter()
    for call in calls:
        began = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - began)
    return summarise(latencies, time.perf_counter() - start, len(calls))


def bodies(outcomes: Sequence[Any]) -> list[dict[str, Any]]:
    """The JSON answers the service would send for pipeline outcomes (detections only)."""
    return [detections_body(outcome) for outcome in outcomes]


def cycle(items: Sequence[Any], count: int) -> list[Any]:
    return [items[i % len(items)] for i in range(count)]


def model_inputs(pipeline: DetectionPipeline, payloads: Sequence[dict[str, bytes]]) -> list[ModelInput]:
    """The model's input for each payload (decoded and preprocessed onto the pipeline's device)."""
    prepared = [pipeline.prepare(payload) for payload in payloads]
    return [ModelInput(p.image, p.request.caption, p.request.box_threshold) for p in prepared]


def bare_model_calls(pipeline: DetectionPipeline, payloads: list[dict[str, bytes]]) -> list[Callable[[], Any]]:
    """One bare batch-of-one model call per payload, its input prepared beforehand."""
    inputs = model_inputs(pipeline, payloads)
    return [lambda item=item: predict_batch(pipeline.detector, [item], pipeline.limits) for item in inputs]


def interleaved(first: Sequence[Callable[[], Any]], second: Sequence[Callable[[], Any]]) -> tuple[dict, dict]:
    """Latency summaries of ``first`` and ``second``, called alternately so both see the same load."""
    latencies: tuple[list[float], list[float]] = ([], [])
    walls = [0.0, 0.0]
    for pair in zip(first, second):
        for index, call in enumerate(pair):
            began = time.perf_counter()
            call()
            latencies[index].append(time.perf_counter() - began)
            walls[index] += latencies[index][-1]
    return tuple(summarise(lat, wall, len(lat)) for lat, wall in zip(latencies, walls))  # type: ignore[return-value]


def bench_in_process(pipeline: DetectionPipeline, payloads: list[dict[str, bytes]], count: int) -> dict[str, Any]:
    """(a) the bare model call (batch of one, inputs prepared beforehand) and (b) the whole pipeline."""
    model_calls = bare_model_calls(pipeline, payloads)
    model_calls[0]()  # warm-up
    timers: list[StageTimer] = []
    pipeline_calls = [lambda p=p: timers.append(pipeline.run_timed([p]).timer) for p in payloads]
    model, pipe = interleaved(cycle(model_calls, count), cycle(pipeline_calls, count))
    stages = {stage: statistics.fmean(t.totals_ms[stage] for t in timers) for stage in STAGES}
    return {"model": model, "pipeline": pipe, "stages_ms": stages}


def _extend_with_run(outcomes: list[Any], pipeline: DetectionPipeline, payload: dict[str, bytes]) -> None:
    outcomes.extend(pipeline.run([payload]))


def bench_precision(pipeline: DetectionPipeline, payloads: list[dict[str, bytes]], noise_floor: bool) -> dict[str, Any]:
    """Each reduced precision the device supports vs float32: speed and detection agreement.

    With ``noise_floor``, also how far +-1 grey level of input noise moves the float32 detections.
    """
    reference = bodies(pipeline.run(payloads))
    result: dict[str, Any] = {}
    if noise_floor:
        noisy = bodies(pipeline.run([{**p, "image": with_grey_level_noise(p["image"])} for p in payloads]))
        result["noise_floor"] = dict(zip(("mean_iou", "mean_score_diff"), mean_agreement(reference, noisy, TOP)))
    device = pipeline.detector.device
    dtypes = ("bfloat16", "float16") if device.type == "cuda" else ("bfloat16",)
    for dtype in dtypes:
        detector = UpstreamDetector(pipeline.detector.model, device, dtype)
        variant = DetectionPipeline(detector, replace(pipeline.settings, dtype=dtype))
        variant.run(payloads[:1])  # warm-up
        outcomes: list[Any] = []
        speed = timed([partial(_extend_with_run, outcomes, variant, p) for p in payloads])
        iou, score_diff = mean_agreement(reference, bodies(outcomes), TOP)
        result[dtype] = {**speed, "mean_iou": iou, "mean_score_diff": score_diff}
    return result


def bench_batching(pipeline: DetectionPipeline, payload: dict[str, bytes], size: int, rounds: int) -> dict[str, Any]:
    """What exact batching costs: ``size`` same-shape requests with one class list, run as one batch.

    Variants, alternated round by round so that all see the same load: the device's exact plan
    (``pipeline.limits``), every request in shared calls at the current thread count, and (CPU)
    shared calls on one thread, where CPU batching is exact too (see ``handler/core/batching.py``).
    """
    batch = [dict(payload) for _ in range(size)]
    shared = CallLimits(pipeline.settings.max_sub_batch, pipeline.settings.max_sub_batch)
    threads = torch.get_num_threads()
    variants = {
        f"exact plan, {threads} threads": (pipeline.limits, threads),
        f"shared calls, {threads} threads": (shared, threads),
    }
    if pipeline.detector.device.type == "cpu":
        variants["shared calls, 1 thread"] = (shared, 1)
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds + 1):  # the first round warms up
        for name, (limits, count) in variants.items():
            torch.set_num_threads(count)
            began = time.perf_counter()
            replace_limits(pipeline, limits).run(batch)
            seconds[name].append(time.perf_counter() - began)
    torch.set_num_threads(threads)
    result = {name: {"images_per_s": size / statistics.median(times[1:])} for name, times in seconds.items()}
    base = result[f"exact plan, {threads} threads"]["images_per_s"]
    for values in result.values():
        values["vs_exact_plan"] = values["images_per_s"] / base
    return result


def replace_limits(pipeline: DetectionPipeline, limits: CallLimits) -> DetectionPipeline:
    """The same pipeline (same detector) with other model-call limits."""
    variant = DetectionPipeline(pipeline.detector, pipeline.settings)
    variant.limits = limits
    return variant


def bench_decode(pipeline: DetectionPipeline, data: bytes, repeats: int) -> dict[str, Any]:
    """12-megapixel JPEG to model input: drafted decode vs full decode (each plus resize + normalise)."""
    limit = pipeline.settings.max_pixels
    full = timed([lambda: pipeline.preprocess(decode_image(data, limit))] * repeats)
    drafted = timed([lambda: pipeline.preprocess(decode_image(data, limit, pipeline.resize.output_size))] * repeats)
    full_png = io.BytesIO()
    decode_image(data, limit).pixels.save(full_png, format="PNG")  # lossless: decoded fully by the pipeline
    reference, candidate = bodies(
        pipeline.run([{"image": full_png.getvalue(), "caption": CAPTION}, {"image": data, "caption": CAPTION}])
    )
    iou, score_diff = mean_agreement([reference], [candidate], TOP)
    return {
        "full_ms": full["p50_ms"],
        "drafted_ms": drafted["p50_ms"],
        "speedup": full["p50_ms"] / drafted["p50_ms"],
        "drafted_pixels": list(decode_image(data, limit, pipeline.resize.output_size).pixels.size),
        "mean_iou": iou,
        "mean_score_diff": score_diff,
    }


def post(url: str, payload: dict[str, bytes]) -> float:
    began = time.perf_counter()
    reply = requests.post(url, files=payload, timeout=900)
    if reply.status_code != 200:
        raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:300]}")
    return time.perf_counter() - began


def bench_http(
    options: Options,
    checkpoint: Path,
    payloads: list[dict[str, bytes]],
    batch_size: int,
    model_calls: list[Callable[[], Any]],
) -> dict[str, Any]:
    """(c) a real TorchServe with a real .mar: cold start, .mar size, throughput at each concurrency.

    Concurrency 1 alternates each HTTP request with the bare model call on the same image
    (``c1_model``), so their ratio is not skewed by other load on a shared host.
    """
    with tempfile.TemporaryDirectory(prefix="bench-store-") as store:
        return _serve_and_measure(options, checkpoint, payloads, batch_size, model_calls, Path(store))


def _serve_and_measure(
    options: Options,
    checkpoint: Path,
    payloads: list[dict[str, bytes]],
    batch_size: int,
    model_calls: list[Callable[[], Any]],
    store: Path,
) -> dict[str, Any]:
    name = f"groundingdino_b{batch_size}"
    mar = build_mar(
        checkpoint,
        store,
        options.config,
        model_name=name,
        overrides={"batchSize": batch_size, "minWorkers": 1, "maxWorkers": 1},
        handler_overrides={"resize_short": options.resize_short, "resize_max": options.resize_max},
    )
    server = TorchServe(store, name)
    started = time.perf_counter()
    server.start(timeout=900)
    result: dict[str, Any] = {"cold_start_s": time.perf_counter() - started, "mar_mb": mar.stat().st_size / 1e6}
    try:
        url = f"{server.url}/predictions/{name}"
        post(url, payloads[0])  # the first request after READY pays for lazy allocations
        if 1 in options.concurrency:
            http_calls = [lambda p=p: post(url, p) for p in cycle(payloads, options.requests)]
            result["c1"], result["c1_model"] = interleaved(http_calls, cycle(model_calls, options.requests))
        for concurrency in [c for c in options.concurrency if c != 1]:
            jobs = cycle(payloads, max(options.requests, concurrency))
            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                latencies = list(pool.map(lambda p: post(url, p), jobs))
            result[f"c{concurrency}"] = summarise(latencies, time.perf_counter() - start, len(jobs))
            logger.info("HTTP batchSize %d concurrency %d: %s", batch_size, concurrency, result[f"c{concurrency}"])
    finally:
        server.stop()
    return result


def run(options: Options) -> dict[str, Any]:
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    checkpoint = cached_random_checkpoint(options.config)
    images = benchmark_images()
    payloads = [{"image": data, "caption": CAPTION} for data in images.values()]
    pipeline = random_pipeline(options.config, device, resize_short=options.resize_short, resize_max=options.resize_max)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
        "config": options.config.name,
        "resize": [options.resize_short, options.resize_max],
        "images": list(images),
        "requests": options.requests,
    }
    logger.info("in-process model and pipeline, %d requests each", options.requests)
    results["in_process"] = bench_in_process(pipeline, payloads, options.requests)
    logger.info("precision")
    results["precision"] = bench_precision(pipeline, payloads[: options.requests], options.noise_floor)
    logger.info("exact batching: %d same-shape requests per batch", options.batch_images)
    results["batching"] = bench_batching(pipeline, payloads[0], options.batch_images, rounds=3)
    logger.info("12-megapixel JPEG decoding")
    results["decode_12mp"] = bench_decode(pipeline, images[BIG_JPEG], repeats=5)
    write_report(results, options.out)  # the in-process results survive a failed HTTP run
    if not options.skip_http:
        model_calls = bare_model_calls(pipeline, payloads)
        results["http"] = {
            f"batch{b}": bench_http(options, checkpoint, payloads, b, model_calls) for b in options.batch_sizes
        }
        results["service_to_model_p50"] = {
            key: value["c1"]["p50_ms"] / value["c1_model"]["p50_ms"]
            for key, value in results["http"].items()
            if "c1" in value
        }
    return results


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=FULL_CONFIG)
    parser.add_argument("--out", type=Path, default=REPO / "benchmark_results")
    parser.add_argument("--requests", type=int, help="requests per measurement (default 12; quick 4)")
    parser.add_argument("--resize-short", type=int, help="model input short side (default 800; quick 320)")
    parser.add_argument("--resize-max", type=int, help="model input long side limit (default 1333; quick 512)")
    parser.add_argument(
        "--size", type=int, help="model input short side, the long side limit in proportion (800: 1333)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", help="HTTP client concurrency (default 1 4 8; quick 1 8)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="TorchServe batchSize values (default 1 8)")
    parser.add_argument("--skip-http", action="store_true", help="in-process measurements only")
    parser.add_argument(
        "--batch-images", type=int, help="requests per batch in the exact-batching comparison (default 8; quick 4)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small images, few requests, no noise floor")
    parser.add_argument(
        "--mask-models",
        nargs="+",
        default=(),
        help="measure only the mask stage (per image and per box, as a ratio to detection) of these mask models",
    )
    parser.add_argument(
        "--prompt-modes",
        action="store_true",
        help="measure only the coco and lvis vocabularies with and without the prompt cache (--requests images each)",
    )
    parser.add_argument(
        "--compare-backends",
        action="store_true",
        help="measure only a faster variant (--candidate) against the upstream back end (images/s, agreement; --requests calls each, default one per photo)",
    )
    parser.add_argument("--candidate", choices=CANDIDATES, default="openvino", help="--compare-backends: the variant")
    parser.add_argument(
        "--openvino-weights", choices=defaults.OPENVINO_WEIGHTS, default=defaults.OPENVINO_DEFAULT_WEIGHTS
    )
    parser.add_argument(
        "--photo-sizes",
        action="store_true",
        help="--compare-backends: keep each photo's aspect ratio instead of cropping all to size x long side",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    if args.size:
        args.resize_short, args.resize_max = (
            args.resize_short or args.size,
            args.resize_max or round(args.size * defaults.RESIZE_MAX / defaults.RESIZE_SHORT),
        )
    return Options(
        config=args.config.resolve(),
        out=args.out,
        requests=args.requests or (4 if quick else len(PHOTOS) if args.compare_backends else 12),
        resize_short=args.resize_short or (320 if quick else 800),
        resize_max=args.resize_max or (512 if quick else 1333),
        concurrency=tuple(args.concurrency or ((1, 8) if quick else (1, 4, 8))),
        batch_sizes=tuple(args.batch_sizes or (1, 8)),
        skip_http=args.skip_http,
        batch_images=args.batch_images or (4 if quick else 8),
        noise_floor=not quick,
        mask_models=tuple(args.mask_models),
        prompt_modes=args.prompt_modes,
        compare_backends=args.compare_backends,
        openvino_weights=args.openvino_weights,
        candidate=args.candidate,
        photo_sizes=args.photo_sizes,
    )


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = parse_options(argv)
    if options.mask_models:
        run_mask_benchmark(options.mask_models, options.out)
        return
    if options.prompt_modes:
        from gdino_serve.tools.benchmark_prompts import run_prompt_benchmark  # it builds on this module's timing

        resize = (options.resize_short, options.resize_max)
        run_prompt_benchmark(options.config, resize, options.requests, options.out)
        return
    if options.compare_backends:
        from gdino_serve.tools.benchmark_backends import run_backend_benchmark  # it builds on this module's timing

        compared = run_backend_benchmark(
            options.config,
            (options.resize_short, options.resize_max),
            options.openvino_weights,
            options.requests,
            options.out,
            options.candidate,
            options.photo_sizes,
        )
        print(f"images/s ratio {options.candidate}/upstream: {compared['ratio']:.2f}")
        return
    started = time.perf_counter()
    results = run(options)
    results["benchmark_wall_s"] = time.perf_counter() - started
    for path in write_report(results, options.out):
        logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
