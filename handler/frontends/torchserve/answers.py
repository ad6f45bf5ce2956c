"""A TorchServe batch answered without TorchServe: envelopes in, one :class:`Reply` per request out.

The adapter calls :func:`answer_batch` and only hands the replies to TorchServe; tests call it
to see exactly what the service would send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler.core.detections import Detections
from handler.core.errors import DetectionError
from handler.core.pipeline import DetectionPipeline, Outcome
from handler.core.stage_timer import StageTimer
from handler.frontends.torchserve.envelope import request_fields
from handler.frontends.torchserve.responses import Reply, reply


@dataclass(frozen=True)
class BatchReplies:
    """One batch's replies in request order, its stage times and the boxes of each answered image."""

    replies: list[Reply]
    timer: StageTimer
    detections_per_image: list[int]


def _fields_or_error(raw: Mapping[str, Any]) -> dict[str, Any] | DetectionError:
    try:
        return request_fields(raw)
    except DetectionError as error:
        return error


def answer_batch(pipeline: DetectionPipeline, batch: Sequence[Mapping[str, Any]]) -> BatchReplies:
    """Unwrap each request, run the valid ones as one pipeline batch, and shape every reply."""
    outcomes: list[dict[str, Any] | Outcome] = [_fields_or_error(raw) for raw in batch]
    valid = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, dict)]
    result = pipeline.run_timed([outcomes[i] for i in valid])  # type: ignore[misc]
    for i, outcome in zip(valid, result.outcomes):
        outcomes[i] = outcome
    detections = [len(outcome.scores) for outcome in outcomes if isinstance(outcome, Detections)]
    return BatchReplies([reply(outcome) for outcome in outcomes], result.timer, detections)  # type: ignore[arg-type]


def answer_bodies(pipeline: DetectionPipeline, batch: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The JSON body of each request's reply (errors included)."""
    return [item.body for item in answer_batch(pipeline, batch).replies]
