"""The GPU check's measurements, in process on one loaded pipeline (``gdino_serve/tools/gpu_check.py``).

Eight different photos (scikit-image's samples and their mirror images), each made exactly the
pipeline's largest input (1333x800 for the service's 800/1333 px), one five-class caption; every
figure is model throughput on inputs prepared beforehand (``predict_batch``, the worker's call):

* ``precision``: images/s at each batch size (1 and 8) in float32, float16 and bfloat16 under the
  exact-batching plan, the peak GPU memory of each (what one worker needs), and each reduced
  precision's largest score and box differences from float32 on one image;
* ``batching``: the largest batch with exact batching vs the same batch in calls shared as
  upstream has them (``model_variants.upstream_batching``): what exactness costs;
* ``speedups``: batch 1 with and without the sync-free decoder (and the host synchronisations of
  one call), and float16 with and without the float16 islands;
* ``compiled``: ``torch.compile`` (``reduce-overhead``: CUDA graphs) vs eager at each batch size,
  the first call's time (the compilation) and the largest differences from eager.

``compiled`` changes the model in place, so it runs last. Each figure is written to the report
as soon as it is measured, and each measurement starts only while the deadline allows. On the CPU
the same code runs on the tiny config (``tests/model/test_gpu_benchmark.py``).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image, ImageOps

from gdino_serve.tools.benchmark import CAPTION, model_inputs, summarise
from gdino_serve.tools.gpu_check_plan import MIB
from gdino_serve.tools.model_variants import class_forward, count_host_syncs, fusion_attentions, upstream_batching
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes
from gdino_serve.tools.stage_report import Deadline, Report
from handler.backends.upstream.compiled import compile_model
from handler.core.batching import CallLimits, ModelInput, RawDetections, predict_batch
from handler.core.detector import Detector, QueryScores
from handler.core.pipeline import DetectionPipeline

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure (the defaults are the GPU check's)."""

    images: int = 8  # different photos, all of the pipeline's largest input size
    dtypes: tuple[str, ...] = ("float32", "float16", "bfloat16")
    batch_sizes: tuple[int, ...] = (1, 8)
    rounds: int = 3  # timed passes over the images
    warmups: int = 1  # untimed passes before them (compiled: one more, for the CUDA graphs' recording)
    compile_mode: str = "reduce-overhead"
    compile_backend: str = "inductor"
    compile_dtypes: tuple[str, ...] = ("float32", "bfloat16")  # in this order, while time is left


def same_size_photos(count: int, width: int, height: int) -> list[bytes]:
    """``count`` different photos (the samples, then their mirror images), each resized to exactly
    ``width`` x ``height`` and PNG-encoded."""
    originals = [Image.open(io.BytesIO(photo_bytes(name))).convert("RGB") for name in PHOTOS]
    photos = (originals + [ImageOps.mirror(image) for image in originals])[:count]
    if len(photos) < count:
        raise ValueError(f"{count} photos asked for, {2 * len(PHOTOS)} available")
    encoded = []
    for photo in photos:
        buffer = io.BytesIO()
        photo.resize((width, height), Image.BICUBIC).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    return encoded


def largest_inputs(pipeline: DetectionPipeline, count: int) -> list[ModelInput]:
    """``count`` different model inputs of the pipeline's largest size (landscape), on its device."""
    short, longest = pipeline.settings.resize_short, pipeline.settings.resize_max
    photos = same_size_photos(count, longest, short)
    return model_inputs(pipeline, [{"image": data, "caption": CAPTION} for data in photos])


def detector_in(pipeline: DetectionPipeline, dtype: str) -> Detector:
    """The pipeline's model behind a detector that calls it under ``dtype`` (its own prompt cache)."""
    detector = pipeline.detector
    return type(detector)(detector.model, detector.device, dtype, pipeline.settings.prompt_cache_mb)


def in_batches(detector: Detector, inputs: Sequence[ModelInput], batch: int, limits: CallLimits) -> list[RawDetections]:
    """Every input's detections, ``batch`` inputs per ``predict_batch`` call (the worker's call)."""
    return [
        raw
        for start in range(0, len(inputs), batch)
        for raw in predict_batch(detector, inputs[start : start + batch], limits)
    ]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(call: Callable[[], Any], images: int, rounds: int, device: torch.device, warmups: int = 1) -> dict:
    """images/s and per-pass latency of ``rounds`` timed calls (each over ``images`` images), after ``warmups``."""
    for _ in range(warmups):
        call()
    synchronize(device)
    latencies = []
    start = time.perf_counter()
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        synchronize(device)
        latencies.append(time.perf_counter() - began)
    return summarise(latencies, time.perf_counter() - start, images * rounds)


class PeakMemory:
    """The peak GPU memory of a block (MiB allocated by tensors, and reserved by the caching allocator)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.figures: dict[str, float] = {}

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *_: object) -> None:
        if self.device.type == "cuda":
            synchronize(self.device)
            self.figures = {
                "peak_allocated_mib": torch.cuda.max_memory_allocated(self.device) / MIB,
                "peak_reserved_mib": torch.cuda.max_memory_reserved(self.device) / MIB,
            }


def scores_of(detector: Detector, item: ModelInput) -> QueryScores:
    """Every query's token probabilities and box for one input alone."""
    return detector.decode(detector.encode_images(item.image[None]), [0], [item.caption])


def distance(scores: QueryScores, reference: QueryScores) -> dict[str, float]:
    """The largest score and box differences (inf where either is not finite), and how many scores are not finite."""
    return {
        "max_score_diff": float((scores.probs - reference.probs).abs().nan_to_num(float("inf")).max()),
        "max_box_diff": float((scores.boxes - reference.boxes).abs().nan_to_num(float("inf")).max()),
        "nonfinite_scores": int((~torch.isfinite(scores.probs)).sum()),
    }


class Bench:
    """The measurements of one pipeline, written to ``report`` while ``deadline`` allows."""

    def __init__(self, pipeline: DetectionPipeline, options: BenchOptions, report: Report, deadline: Deadline) -> None:
        self.pipeline = pipeline
        self.options = options
        self.report = report
        self.deadline = deadline
        self.model = pipeline.detector.model
        self.device = pipeline.detector.device
        self.inputs = largest_inputs(pipeline, options.images)

    def measure(self, keys: Sequence[str], call: Callable[..., Any], *args: Any) -> Any:
        """Record ``call(*args)``'s figures at ``keys`` (None, and a skip noted, once the deadline has passed)."""
        if self.deadline.passed():
            self.report.put(keys, "skipped: the time budget was spent")
            return None
        figures = call(*args)
        self.report.put(keys, figures)
        logger.info("%s: %s", " / ".join(keys), figures)
        return figures

    def speed(self, detector: Detector, batch: int, extra_warmups: int = 0) -> dict[str, Any]:
        """Throughput and peak memory at ``batch`` inputs per call."""
        call = lambda: in_batches(detector, self.inputs, batch, self.pipeline.limits)  # noqa: E731
        warmups = self.options.warmups + extra_warmups
        with PeakMemory(self.device) as memory:
            figures = throughput(call, len(self.inputs), self.options.rounds, self.device, warmups)
        return {**figures, **memory.figures}

    def distance_from(self, detector: Detector, reference: QueryScores) -> dict[str, float]:
        """:func:`distance` of the first input's scores from ``reference``."""
        return distance(scores_of(detector, self.inputs[0]), reference)

    def precision(self) -> None:
        """Each dtype at each batch size; each reduced precision's distance from float32."""
        reference = scores_of(detector_in(self.pipeline, "float32"), self.inputs[0])
        for dtype in self.options.dtypes:
            detector = detector_in(self.pipeline, dtype)
            for batch in self.options.batch_sizes:
                self.measure(("precision", dtype, f"batch{batch}"), self.speed, detector, batch)
            if dtype != "float32":
                self.measure(("precision", dtype, "vs_float32"), self.distance_from, detector, reference)

    def batching(self) -> None:
        """The largest batch with exact batching vs in calls shared as upstream has them (float32)."""
        batch = max(self.options.batch_sizes)
        detector = detector_in(self.pipeline, "float32")
        exact = self.measure(("batching", f"exact_plan_batch{batch}"), self.speed, detector, batch)
        with upstream_batching(self.model):
            shared = self.measure(("batching", f"shared_calls_batch{batch}"), self.speed, detector, batch)
        if exact and shared:
            self.report.put(("batching", "shared_over_exact"), shared["images_per_s"] / exact["images_per_s"])

    def speedups(self) -> None:
        """Batch 1 with and without the sync-free decoder; float16 with and without its islands."""
        detector = detector_in(self.pipeline, "float32")
        self.on_and_off("sync_free_decoder", detector, [self.model.transformer.decoder])
        if "float16" in self.options.dtypes:
            self.on_and_off("float16_islands", detector_in(self.pipeline, "float16"), fusion_attentions(self.model))

    def on_and_off(self, name: str, detector: Detector, modules: list[torch.nn.Module]) -> None:
        """A per-model speed-up (on ``modules``) at batch 1, on and then off; on CUDA, the host
        synchronisations of one call each way."""

        def figures() -> dict[str, Any]:
            found = self.speed(detector, 1)
            if self.device.type == "cuda":
                found["host_syncs_per_call"] = count_host_syncs(lambda: scores_of(detector, self.inputs[0]))
            return found

        on = self.measure(("speedups", name, "on"), figures)
        with class_forward(modules):
            off = self.measure(("speedups", name, "off"), figures)
        if on and off:
            self.report.put(("speedups", name, "on_over_off"), on["images_per_s"] / off["images_per_s"])

    def compiled(self) -> None:
        """torch.compile of the model's heavy parts vs eager, per dtype while time is left (last:
        it compiles the model in place)."""
        options = self.options
        eager = {
            dtype: scores_of(detector_in(self.pipeline, dtype), self.inputs[0]) for dtype in options.compile_dtypes
        }
        compile_model(self.model, options.compile_mode, backend=options.compile_backend)
        self.report.put(("compiled", "mode"), f"{options.compile_mode} ({options.compile_backend})")
        for dtype in options.compile_dtypes:
            detector = detector_in(self.pipeline, dtype)
            for batch in options.batch_sizes:
                self.measure(("compiled", dtype, f"batch{batch}"), self.first_and_steady, detector, batch)
            self.measure(("compiled", dtype, "vs_eager"), self.distance_from, detector, eager[dtype])

    def first_and_steady(self, detector: Detector, batch: int) -> dict[str, Any]:
        """The first pass (compilation for a new shape), then the steady speed (after one more
        warm-up pass than eager: CUDA graphs are recorded on the first calls after compiling)."""
        began = time.perf_counter()
        in_batches(detector, self.inputs, batch, self.pipeline.limits)
        first = time.perf_counter() - began
        return {"first_pass_s": first, **self.speed(detector, batch, extra_warmups=1)}

    def run(self, stages: Sequence[str] = ("precision", "batching", "speedups", "compiled")) -> None:
        """Each stage in order (a failing one is recorded and the next runs)."""
        for name in stages:
            with self.report.stage(name, self.deadline) as go:
                if go:
                    getattr(self, name)()
