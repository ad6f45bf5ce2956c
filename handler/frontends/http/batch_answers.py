"""A TorchServe batch answered without TorchServe: envelopes in, one :class:`Reply` per request out.

A request is a default-protocol body (one image) or a KServe v1/v2 body (``kserve.py``; a v1
body may hold several images). Every image of every valid request runs in one pipeline batch;
each request's reply is then shaped for its protocol. The adapter calls :func:`answer_batch` and
only hands the replies to TorchServe; tests call it to see exactly what the service would send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from handler.contract import defaults
from handler.contract.errors import DetectionError, ErrorType, InvalidInput
from handler.core.detections import Detections
from handler.core.pipeline import DetectionPipeline, Outcome
from handler.core.stage_timer import StageTimer
from handler.frontends.http.kserve_protocol import (
    KServeRequest,
    ModelRef,
    kserve_answer,
    kserve_error,
    kserve_protocol,
    parse_kserve,
)
from handler.frontends.http.replies import Reply, reply
from handler.frontends.http.request_fields import request_fields

DEFAULT_MODEL = ModelRef(defaults.MODEL_NAME, defaults.MODEL_VERSION)


@dataclass(frozen=True)
class BatchReplies:
    """One batch's replies in request order, its stage times and the boxes of each answered image."""

    replies: list[Reply]
    timer: StageTimer
    detections_per_image: list[int]


@dataclass(frozen=True)
class ParsedRequest:
    """One request of a batch: the fields of each of its images, or the error that stopped it."""

    items: list[dict[str, Any]] = field(default_factory=list)
    error: DetectionError | None = None
    is_kserve: bool = False
    kserve: KServeRequest | None = None


def parse_envelope(raw: Mapping[str, Any]) -> ParsedRequest:
    """Unwrap one TorchServe request and read it as the default protocol or as KServe v1/v2."""
    try:
        payload = request_fields(raw)
    except DetectionError as error:
        return ParsedRequest(error=error)
    if kserve_protocol(payload) is None:
        return ParsedRequest(items=[payload])
    try:
        kserve = parse_kserve(payload)
    except DetectionError as error:
        return ParsedRequest(error=error, is_kserve=True)
    return ParsedRequest(items=kserve.items, is_kserve=True, kserve=kserve)


def within_batch_limit(request: ParsedRequest, max_images: int) -> ParsedRequest:
    """``request``, or its 400 when it holds more images than one batch may (a server whose batches
    count images, not requests, cannot fit it into any batch)."""
    if len(request.items) <= max_images:
        return request
    error = InvalidInput(
        f"{len(request.items)} instances in one request; this server answers at most {max_images} per request "
        "(its max_batch_size): split the instances over several requests",
        ErrorType.TOO_MANY_INSTANCES,
    )
    return replace(request, items=[], error=error)


def request_reply(request: ParsedRequest, outcomes: Sequence[Outcome], model: ModelRef) -> Reply:
    """The reply to one request from the outcomes of its images (its own error if it had one)."""
    replies = [reply(outcome) for outcome in ([request.error] if request.error else outcomes)]
    if not request.is_kserve:
        return replies[0]
    failed = next((i for i, item in enumerate(replies) if item.status != 200), None)
    if failed is not None:
        return Reply(replies[failed].status, kserve_error(replies[failed].body, request.kserve, failed))
    assert request.kserve is not None
    return Reply(200, kserve_answer(request.kserve, [item.body for item in replies], model))


def answer_batch(
    pipeline: DetectionPipeline, batch: Sequence[Mapping[str, Any]], model: ModelRef = DEFAULT_MODEL
) -> BatchReplies:
    """Unwrap each request, run every image of the valid ones as one pipeline batch, shape every reply."""
    return answer_parsed(pipeline, [parse_envelope(raw) for raw in batch], model)


def answer_parsed(
    pipeline: DetectionPipeline, requests: Sequence[ParsedRequest], model: ModelRef = DEFAULT_MODEL
) -> BatchReplies:
    """:func:`answer_batch` of requests already unwrapped (a server that parses each as it arrives)."""
    result = pipeline.run_timed([fields for request in requests for fields in request.items])
    outcomes = iter(result.outcomes)
    per_request = [[next(outcomes) for _ in request.items] for request in requests]
    detections = [len(o.scores) for images in per_request for o in images if isinstance(o, Detections)]
    replies = [request_reply(request, images, model) for request, images in zip(requests, per_request)]
    return BatchReplies(replies, result.timer, detections)


def answer_bodies(pipeline: DetectionPipeline, batch: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The JSON body of each request's reply (errors included)."""
    return [item.body for item in answer_batch(pipeline, batch).replies]
