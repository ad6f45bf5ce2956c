"""The thin TorchServe adapter, driven with a fake context: statuses per request, device, threads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gdino_serve.paths import REPO, TINY_CONFIG
from handler.frontends.torchserve.torchserve_handler import GroundingDINOHandler
from tests.support.images import b64
from tests.support.model_inputs import TEST_HANDLER_SETTINGS


class FakeMetrics:
    """Records what the handler reports through ts.metrics (name, value, unit)."""

    model_name = "groundingdino"

    def __init__(self) -> None:
        self.recorded: list[tuple[str, float, str]] = []

    def add_metric(self, name: str, value: float, unit: str, *_: Any) -> None:
        self.recorded.append((name, value, unit))


class FakeContext:
    """The parts of ts.context.Context the handler uses."""

    def __init__(self, checkpoint: Path) -> None:
        self.system_properties = {"model_dir": str(REPO), "gpu_id": None}
        self.manifest = {"model": {"serializedFile": str(checkpoint.relative_to(REPO))}}
        self.model_yaml_config = {
            "minWorkers": 1,
            "handler": {"model_config": f"model_config/{TINY_CONFIG.name}", "warmup": False, **TEST_HANDLER_SETTINGS},
        }
        self.statuses: list[tuple[int, str, int]] = []
        self.content_types: dict[int, str] = {}
        self.metrics = FakeMetrics()

    def set_response_status(self, code: int, phrase: str, idx: int) -> None:
        self.statuses.append((code, phrase, idx))

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_types[idx] = value


@pytest.fixture(scope="module")
def handler_and_context(tiny_checkpoint: Path) -> tuple[GroundingDINOHandler, FakeContext]:
    context = FakeContext(tiny_checkpoint)
    handler = GroundingDINOHandler()
    handler.initialize(context)
    return handler, context


def test_bad_request_in_batch_gets_400_status_and_json_body_only_for_itself(handler_and_context, photos):
    handler, context = handler_and_context
    good = {"body": {"image": b64(photos["coffee.png"]), "caption": "cup", "box_threshold": 0.7}}
    bad = {"body": {"image": b64(photos["coffee.png"])}}
    responses: list[dict[str, Any]] = [json.loads(body) for body in handler.handle([good, bad, good], context)]
    message = responses[1]["message"]
    assert context.statuses == [(400, message, 1)]
    assert responses[1] == {"code": 400, "type": "MissingField", "message": message}
    assert "'caption' or 'classes' is required" in message
    assert responses[0]["boxes"] and responses[0] == responses[2]


def test_status_phrase_of_an_error_echoing_non_ascii_input_is_ascii_and_the_body_keeps_the_text(
    handler_and_context, photos
):
    # TorchServe frames the phrase by its length in characters and sends UTF-8 bytes: non-ASCII
    # desynchronises the front end and hangs the batch (found by the fuzz run).
    handler, context = handler_and_context
    context.statuses.clear()
    bad = {"body": {"image": b64(photos["coffee.png"]), "caption": "cup", "colour\u20ac\n": 1}}
    [body] = [json.loads(answer) for answer in handler.handle([bad], context)]
    [(code, phrase, index)] = context.statuses
    assert (code, index) == (400, 0) and phrase.isascii() and phrase.isprintable()
    assert "colour\\u20ac" in phrase and "colour\u20ac\n" in body["message"]


def test_each_batch_reports_stage_times_batch_size_and_detections(handler_and_context, photos):
    handler, context = handler_and_context
    context.metrics.recorded.clear()
    good = {"body": {"image": b64(photos["chelsea.png"]), "caption": "cat", "box_threshold": 0.8}}
    [answer] = [json.loads(body) for body in handler.handle([good], context)]
    recorded = {name: (value, unit) for name, value, unit in context.metrics.recorded}
    assert recorded["GroundingDINOBatchSize"] == (1, "count")
    assert recorded["GroundingDINODetectionsPerImage"] == (len(answer["boxes"]), "count")
    assert recorded["GroundingDINOModelTime"][0] > 0 and recorded["GroundingDINOModelTime"][1] == "ms"
    [again] = [json.loads(body) for body in handler.handle([good], context)]  # the same prompt: a cache hit
    hits = [value for name, value, _ in context.metrics.recorded if name == "GroundingDINOPromptCacheHits"]
    misses = [value for name, value, _ in context.metrics.recorded if name == "GroundingDINOPromptCacheMisses"]
    assert hits[-1] == 1 and misses[-1] == 0 and len(hits) == len(misses) == 2 and again == answer
