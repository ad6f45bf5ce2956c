"""TorchServe entry point: a thin adapter from TorchServe's context and batches to the pipeline.

The default protocol and KServe's v1 and v2 bodies are answered alike (``frontends/http``);
TorchServe's own KServe envelopes are swapped for pass-throughs (``kserve_envelope_patch``).
Bad requests get HTTP 400 (507 when the model ran out of memory, 500 for another internal
failure) with a JSON body, for that request alone; the other requests of the batch are answered normally. The pipeline's stage timings,
the batch size and the detections per image are emitted as custom metrics (see ``metrics``).
The ``.mar`` names this file as its handler.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from handler.backends import load_pipeline
from handler.contract import defaults
from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings
from handler.frontends.device import cpu_threads_per_worker, select_device
from handler.frontends.http.batch_answers import answer_batch
from handler.frontends.http.kserve_protocol import ModelRef
from handler.frontends.torchserve import kserve_envelope_patch
from handler.frontends.torchserve.metrics import emit_metrics
from handler.frontends.torchserve.status_phrase import status_phrase

logger = logging.getLogger(__name__)

JSON = "application/json"

kserve_envelope_patch.install()  # before TorchServe loads the envelope KServe names (it imports us first)


class GroundingDINOHandler:
    """The TorchServe custom service: ``initialize`` once per worker, ``handle`` per batch."""

    def __init__(self) -> None:
        self.pipeline: DetectionPipeline | None = None
        self.model: ModelRef | None = None
        self.initialized = False

    def initialize(self, context: Any) -> None:
        properties = context.system_properties
        model_dir = Path(properties["model_dir"])
        yaml_config = getattr(context, "model_yaml_config", None) or {}
        settings = HandlerSettings.from_mapping(yaml_config.get("handler"))
        device = select_device(properties.get("gpu_id"))
        if device.type == "cpu":
            torch.set_num_threads(cpu_threads_per_worker(int(yaml_config.get("minWorkers", 1))))
        manifest = context.manifest["model"]
        self.model = ModelRef(
            manifest.get("modelName", defaults.MODEL_NAME), str(manifest.get("modelVersion", defaults.MODEL_VERSION))
        )
        checkpoint = model_dir / manifest["serializedFile"]
        logger.info("loading %s with %s on %s", checkpoint.name, settings.model_config, device)
        self.pipeline = load_pipeline(model_dir, checkpoint, settings, device)
        if settings.warmup:
            self.pipeline.warm_up()
        self.initialized = True
        logger.info("GroundingDINO ready on %s (%d CPU threads)", device, torch.get_num_threads())

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[bytes]:
        """One compact JSON body per request; each error request gets its own status."""
        assert self.pipeline is not None and self.model is not None, "initialize() must run before handle()"
        logger.info("handling a batch of %d request(s)", len(data))
        batch = answer_batch(self.pipeline, data, self.model)
        emit_metrics(context.metrics, batch.timer, len(data), batch.detections_per_image)
        for index, reply in enumerate(batch.replies):
            context.set_response_content_type(index, JSON)
            if reply.status != 200:
                context.set_response_status(reply.status, status_phrase(reply.body["message"]), index)
        return [reply.encoded() for reply in batch.replies]
