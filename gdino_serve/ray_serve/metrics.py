"""The pipeline's figures as Ray metrics: the same stages, batch size, detections and prompt cache
use as TorchServe's.

Ray exports them in Prometheus text on each node's metrics port, named ``ray_<name>`` and tagged
with Serve's ``application``, ``deployment`` and ``replica``. TorchServe reports each batch's stage
times as gauges (``handler/frontends/torchserve/metrics.py``); here they are histograms in ms.
"""

from __future__ import annotations

from ray.serve import metrics

from handler.core.stage_timer import COUNTS, STAGES
from handler.frontends.http.batch_answers import BatchReplies

STAGE_MS = "gdino_stage_ms"  # per batch, tag stage: the pipeline's stages (handler.core.stage_timer.STAGES)
BATCH_SIZE = "gdino_batch_size"  # requests per batch
BATCH_IMAGES = "gdino_batch_images"  # images per batch (a KServe v1 request may hold several)
DETECTIONS = "gdino_detections_per_image"
EVENTS = "gdino_events"  # counter, tag event: prompt_cache_hits, prompt_cache_misses (stage_timer.COUNTS)
MS_BOUNDARIES = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
COUNT_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128]


class ReplicaMetrics:
    """The metrics of one Detector replica (made inside the replica, where Ray can export them)."""

    def __init__(self) -> None:
        self.stage_ms = metrics.Histogram(
            STAGE_MS, "Milliseconds per pipeline stage, summed over a batch", MS_BOUNDARIES, tag_keys=("stage",)
        )
        self.batch_size = metrics.Histogram(BATCH_SIZE, "Requests per model batch", COUNT_BOUNDARIES)
        self.batch_images = metrics.Histogram(BATCH_IMAGES, "Images per model batch", COUNT_BOUNDARIES)
        self.detections = metrics.Histogram(DETECTIONS, "Boxes answered per image", COUNT_BOUNDARIES)
        self.events = metrics.Counter(EVENTS, "Pipeline events: prompt encodings reused or computed", ("event",))

    def record(self, batch: BatchReplies, requests: int, images: int) -> None:
        for stage in STAGES:
            self.stage_ms.observe(batch.timer.totals_ms.get(stage, 0.0), tags={"stage": stage})
        self.batch_size.observe(requests)
        self.batch_images.observe(images)
        for count in batch.detections_per_image:
            self.detections.observe(count)
        for event in COUNTS:
            if batch.timer.counts.get(event):
                self.events.inc(batch.timer.counts[event], tags={"event": event})
