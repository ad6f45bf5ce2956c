"""Custom TorchServe metrics per batch: stage times (the mask stage included), batch size, detections
per image, prompt cache use.

Names are Prometheus gauges on the metrics endpoint (labels ModelName, Level, Hostname); the
prompt cache's hits and misses are counters (totals since the worker started).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes

from handler.core.stage_timer import StageTimer

STAGE_METRICS = {
    "decode": "GroundingDINODecodeTime",
    "preprocess": "GroundingDINOPreprocessTime",
    "model": "GroundingDINOModelTime",
    "postprocess": "GroundingDINOPostprocessTime",
    "masks": "GroundingDINOMasksTime",
}
BATCH_SIZE_METRIC = "GroundingDINOBatchSize"
DETECTIONS_METRIC = "GroundingDINODetectionsPerImage"
COUNT_METRICS = {
    "prompt_cache_hits": "GroundingDINOPromptCacheHits",
    "prompt_cache_misses": "GroundingDINOPromptCacheMisses",
}


def emit_metrics(metrics: Any, timer: StageTimer, batch_size: int, detections_per_image: Sequence[int]) -> None:
    """Report one batch to TorchServe: ms per stage (batch totals), batch size, detections per image,
    and the prompt cache's hits and misses (added to counters)."""

    def metric(name: str, value: float, unit: str, kind: MetricTypes = MetricTypes.GAUGE) -> None:
        # Fresh dimensions each call: TorchServe appends its defaults to a shared default list.
        dimensions = [Dimension("ModelName", metrics.model_name), Dimension("Level", "Model")]
        metrics.add_metric(name, value, unit, None, dimensions, kind)

    for stage, name in STAGE_METRICS.items():
        metric(name, round(timer.totals_ms.get(stage, 0.0), 3), "ms")
    metric(BATCH_SIZE_METRIC, batch_size, "count")
    for count in detections_per_image:
        metric(DETECTIONS_METRIC, count, "count")
    for event, name in COUNT_METRICS.items():
        metric(name, timer.counts.get(event, 0), "count", MetricTypes.COUNTER)
