"""The handler's custom metrics reach TorchServe's Prometheus metrics endpoint."""

from __future__ import annotations

import re

import pytest
import requests

from gdino_serve.tools.sample_photos import photo_bytes
from gdino_serve.torchserve_runner import TorchServe
from handler.frontends.torchserve.metrics import BATCH_SIZE_METRIC, COUNT_METRICS, DETECTIONS_METRIC, STAGE_METRICS
from tests.support.polling import wait_for

pytestmark = pytest.mark.integration  # starts a real TorchServe


def _metric_value(text: str, name: str) -> float | None:
    match = re.search(rf'^{name}\{{[^}}]*ModelName="groundingdino"[^}}]*\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _metrics_text(server: TorchServe) -> str:
    return requests.get(f"{server.metrics_url}/metrics", timeout=30).text


# TorchServe reads a worker's metrics from its log lines in a thread of its own: a reply can arrive
# before the frontend has parsed that batch's metrics, so the tests poll for them.
METRICS_DELAY_S = 30


def test_stage_batch_and_detection_metrics_appear_at_metrics_endpoint_after_a_request(served_model: TorchServe) -> None:
    reply = requests.post(
        f"{served_model.url}/predictions/groundingdino",
        files={"image": photo_bytes("chelsea.png"), "caption": b"a cat"},
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    detections = len(reply.json()["boxes"])

    def reported() -> str:
        text = _metrics_text(served_model)
        return text if _metric_value(text, DETECTIONS_METRIC) == detections else ""

    text = wait_for(reported, METRICS_DELAY_S, "this request's detections at the metrics endpoint")
    for name in (*STAGE_METRICS.values(), BATCH_SIZE_METRIC, DETECTIONS_METRIC):
        assert _metric_value(text, name) is not None, f"{name} missing from /metrics:\n{text}"
    assert _metric_value(text, STAGE_METRICS["model"]) > 0
    assert _metric_value(text, BATCH_SIZE_METRIC) >= 1


def test_prompt_cache_hits_and_misses_are_counted_at_the_metrics_endpoint(served_model: TorchServe) -> None:
    def counts() -> tuple[float, float]:
        text = _metrics_text(served_model)
        return tuple(_metric_value(text, name) or 0.0 for name in COUNT_METRICS.values())  # type: ignore[return-value]

    caption = b"a prompt only this test sends"
    before = counts()
    for _ in range(2):
        reply = requests.post(
            f"{served_model.url}/predictions/groundingdino",
            files={"image": photo_bytes("chelsea.png"), "caption": caption},
            timeout=300,
        )
        assert reply.status_code == 200, reply.text

    def counted() -> tuple[float, ...] | None:
        change = tuple(after - earlier for after, earlier in zip(counts(), before))
        return change if sum(change) >= 2 else None

    hits, misses = wait_for(counted, METRICS_DELAY_S, "both requests' prompt cache use at the metrics endpoint")
    assert (hits, misses) == (1, 1)  # the first request computed the prompt, the second reused it
