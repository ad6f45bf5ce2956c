"""The Detector deployment: one model per replica, Ray Serve's dynamic batching, the shared pipeline.

Each request arrives as the mapping TorchServe would hand its handler (``{"body": bytes}`` or
multipart fields) and is unwrapped as it arrives; ``@serve.batch`` gathers up to
``max_batch_size`` images for at most ``batch_wait_timeout_s`` (TorchServe's ``batchSize`` and
``maxBatchDelay`` from the model's model-config.yaml, changed live by a ``user_config`` with
those two keys) and :func:`answer_parsed` answers them as one pipeline batch, each request with
its own status and body. A KServe v1 request with more instances than a batch holds gets its 400
before it is queued. The pipeline runs in a thread, so health checks and queueing go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import ray
import torch
from ray import serve

from gdino_serve.ray_serve.app_args import AppArgs, replica_model
from gdino_serve.ray_serve.metrics import ReplicaMetrics
from handler.backends import load_pipeline
from handler.frontends.device import select_device
from handler.frontends.http.batch_answers import ParsedRequest, answer_parsed, parse_envelope, within_batch_limit

logger = logging.getLogger("ray.serve")  # Serve's replica logger: its file and lines name the replica

Answer = tuple[int, bytes, str, str]  # status, JSON body, replica id, node id


def images_in(requests: Sequence[ParsedRequest]) -> int:
    """``@serve.batch``'s size of a list of queued requests: their images (a refused request counts one).
    It must never raise: an exception here stops Serve's batching loop without a word."""
    return sum(max(1, len(request.items)) for request in requests)


def replica_threads(configured: int) -> int:
    """Torch threads for a CPU replica: ``configured``, else the CPUs Ray assigned it (at least 1)."""
    if configured > 0:
        return configured
    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    return max(1, int(assigned))


@serve.deployment(name="Detector", max_ongoing_requests=16, ray_actor_options={"num_cpus": 1})
class Detector:
    """Loads the model once, then answers batches of requests; see the module docstring."""

    def __init__(self, args: Mapping[str, Any]) -> None:
        settings = AppArgs.from_mapping(args)
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.node = ray.get_runtime_context().get_node_id()
        device = select_device(0 if ray.get_gpu_ids() else None)  # Ray shows a replica only its own GPU
        if device.type == "cpu":
            torch.set_num_threads(replica_threads(settings.cpu_threads))
        with replica_model(settings) as model:
            logger.info("loading %s (%s) on %s", model.weights.name, model.model_dir, device)
            self.pipeline = load_pipeline(model.model_dir, model.weights, model.settings, device)
        if model.settings.warmup:
            self.pipeline.warm_up()
        self.model = model.ref
        self.set_batching(model.max_batch_size, model.batch_wait_s)
        self.metrics = ReplicaMetrics()
        logger.info(
            "replica %s ready on node %s (pid %d, %s, %d CPU threads): batches of up to %d image(s), %.0f ms wait",
            self.replica, self.node, os.getpid(), device, torch.get_num_threads(),
            model.max_batch_size, model.batch_wait_s * 1000,
        )  # fmt: skip

    def set_batching(self, max_batch_size: int, batch_wait_s: float) -> None:
        self.max_batch_size, self.batch_wait_s = int(max_batch_size), float(batch_wait_s)
        self.answer_batch.set_max_batch_size(self.max_batch_size)
        self.answer_batch.set_batch_wait_timeout_s(self.batch_wait_s)

    def reconfigure(self, user_config: Mapping[str, Any]) -> None:
        """A ``user_config`` of ``max_batch_size`` and/or ``batch_wait_timeout_s``: applied live, no restart."""
        unknown = sorted(set(user_config) - {"max_batch_size", "batch_wait_timeout_s"})
        if unknown:
            raise ValueError(f"unknown user_config keys: {', '.join(unknown)}")
        self.set_batching(
            user_config.get("max_batch_size", self.max_batch_size),
            user_config.get("batch_wait_timeout_s", self.batch_wait_s),
        )
        logger.info("batching changed: up to %d image(s), %.0f ms wait", self.max_batch_size, self.batch_wait_s * 1000)

    async def answer(self, raw: Mapping[str, Any]) -> Answer:
        """One request's status and JSON body, answered in a batch with whatever else is queued."""
        request = within_batch_limit(await asyncio.to_thread(parse_envelope, raw), self.max_batch_size)
        status, body = await self.answer_batch(request)
        return status, body, self.replica, self.node

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05, batch_size_fn=images_in)  # set in __init__
    async def answer_batch(self, requests: list[ParsedRequest]) -> list[tuple[int, bytes]]:
        batch = await asyncio.to_thread(answer_parsed, self.pipeline, requests, self.model)
        images = sum(len(request.items) for request in requests)
        self.metrics.record(batch, len(requests), images)
        logger.info(
            "answered a batch of %d request(s), %d image(s) on node %s, replica %s: statuses %s",
            len(requests), images, self.node, self.replica, [reply.status for reply in batch.replies],
        )  # fmt: skip
        return [(reply.status, reply.encoded()) for reply in batch.replies]

    def ready(self) -> bool:
        """For the gateway's health routes: a replica that answers this has its model loaded."""
        return True
