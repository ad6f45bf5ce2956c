"""TorchServe entry point: a thin adapter from TorchServe's context and batches to the pipeline.

Bad requests get HTTP 400 (or 500 for an internal failure) with a JSON body, for that request
alone; the other requests of the batch are answered normally. The pipeline's stage timings,
the batch size and the detections per image are emitted as custom metrics (names below).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes

from handler.core.errors import BadRequest
from handler.core.pipeline import BatchResult, DetectionPipeline
from handler.core.settings import HandlerSettings

logger = logging.getLogger(__name__)

# Custom metric names (Prometheus gauges on the metrics endpoint, labels ModelName, Level, Hostname).
STAGE_METRICS = {
    "decode": "GroundingDINODecodeTime",
    "preprocess": "GroundingDINOPreprocessTime",
    "model": "GroundingDINOModelTime",
    "postprocess": "GroundingDINOPostprocessTime",
}
BATCH_SIZE_METRIC = "GroundingDINOBatchSize"
DETECTIONS_METRIC = "GroundingDINODetectionsPerImage"


def select_device(gpu_id: Any) -> torch.device:
    """``cuda:{gpu_id}`` when TorchServe assigned a GPU and CUDA works, else the CPU."""
    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def cpu_threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Split the host's cores evenly between the model's workers (at least one each)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


class GroundingDINOHandler:
    """The TorchServe custom service: ``initialize`` once per worker, ``handle`` per batch."""

    def __init__(self) -> None:
        self.pipeline: DetectionPipeline | None = None
        self.initialized = False

    def initialize(self, context: Any) -> None:
        properties = context.system_properties
        model_dir = Path(properties["model_dir"])
        yaml_config = getattr(context, "model_yaml_config", None) or {}
        settings = HandlerSettings.from_mapping(yaml_config.get("handler"))
        device = select_device(properties.get("gpu_id"))
        if device.type == "cpu":
            torch.set_num_threads(cpu_threads_per_worker(int(yaml_config.get("minWorkers", 1))))
        checkpoint = model_dir / context.manifest["model"]["serializedFile"]
        logger.info("loading %s with %s on %s", checkpoint.name, settings.model_config, device)
        self.pipeline = DetectionPipeline.load(model_dir, checkpoint, settings, device)
        if settings.warmup:
            self.pipeline.warm_up()
        self.initialized = True
        logger.info("GroundingDINO ready on %s (%d CPU threads)", device, torch.get_num_threads())

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
        assert self.pipeline is not None, "initialize() must run before handle()"
        logger.info("handling a batch of %d request(s)", len(data))
        result = self.pipeline.run_timed(data)
        emit_metrics(context.metrics, result)
        responses = []
        for index, outcome in enumerate(result.outcomes):
            if isinstance(outcome, BadRequest):
                context.set_response_status(outcome.code, outcome.message, index)
                outcome = outcome.to_body()
            responses.append(outcome)
        return responses


def emit_metrics(metrics: Any, result: BatchResult) -> None:
    """Report one batch to TorchServe: ms per stage (batch totals), batch size, detections per image."""

    def gauge(name: str, value: float, unit: str) -> None:
        # Fresh dimensions each call: TorchServe appends its defaults to a shared default list.
        dimensions = [Dimension("ModelName", metrics.model_name), Dimension("Level", "Model")]
        metrics.add_metric(name, value, unit, None, dimensions, MetricTypes.GAUGE)

    for stage, name in STAGE_METRICS.items():
        gauge(name, round(result.timer.totals_ms.get(stage, 0.0), 3), "ms")
    gauge(BATCH_SIZE_METRIC, len(result.outcomes), "count")
    for outcome in result.outcomes:
        if not isinstance(outcome, BadRequest):
            gauge(DETECTIONS_METRIC, len(outcome["boxes"]), "count")
