"""Parity with the reference: the service answers as ``groundingdino.util.inference.predict`` does.

A random-weight checkpoint of the full Swin-T OGC architecture; small images (the resize
settings) keep CPU time low, and ``predict`` reads the very tensor the service preprocessed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from groundingdino.util.inference import predict
from torchvision.ops import box_convert

from handler.core.pipeline import DetectionPipeline
from handler.frontends.http.batch_answers import answer_bodies

TEXT_THRESHOLD, TOLERANCE = 0.7, 1e-4
# (photo, caption, box threshold): thresholds picked so each case keeps a few to a few dozen boxes
Case = tuple[str, str, float]
CASES: list[Case] = [
    ("astronaut.png", "person . flag . space suit", 0.82),
    ("coffee.png", "a cup of coffee on a saucer .", 0.66),
    ("chelsea.png", "cat . remote control . sofa", 0.74),
    ("rocket.jpg", "Rocket . launch tower . smoke plume .", 0.78),
]


def _request(photos: dict[str, bytes], name: str, caption: str, box_threshold: float) -> dict[str, Any]:
    return {
        "image": photos[name],
        "caption": caption,
        "box_threshold": box_threshold,
        "text_threshold": TEXT_THRESHOLD,
        "box_format": "xyxy",
        "normalized": True,
        "max_detections": 1000,
    }


Reference = tuple[torch.Tensor, torch.Tensor, list[str]]


def _reference(pipeline: DetectionPipeline, request: dict[str, Any]) -> Reference:
    """``predict`` on the service's preprocessed image, boxes as clipped normalised corners, best first."""
    image = pipeline.prepare(request).image
    boxes, scores, phrases = predict(
        pipeline.detector.model,
        image,
        request["caption"],
        request["box_threshold"],
        TEXT_THRESHOLD,
        device="cpu",
        remove_combined=False,
    )
    order = torch.argsort(scores, descending=True, stable=True)
    corners = box_convert(boxes[order], in_fmt="cxcywh", out_fmt="xyxy").clamp(0, 1)
    cleaned = [" ".join(phrases[i].replace("[CLS]", " ").replace("[SEP]", " ").split()) for i in order.tolist()]
    return corners, scores[order], cleaned


def _max_difference(response: dict[str, Any], reference: Reference) -> float:
    boxes, scores, phrases = reference
    assert len(scores) > 0, "the case must produce detections to compare"
    assert len(response["scores"]) == len(scores)
    assert response["phrases"] == phrases
    box_diff = (torch.tensor(response["boxes"]) - boxes).abs().max()
    score_diff = (torch.tensor(response["scores"]) - scores).abs().max()
    return float(max(box_diff, score_diff))


@pytest.fixture(scope="module")
def reference(full_pipeline: DetectionPipeline, photos: dict[str, bytes]) -> Callable[[Case], Reference]:
    """The reference answer of a case, computed once per module."""
    return functools.cache(lambda case: _reference(full_pipeline, _request(photos, *case)))


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_single_request_matches_reference_predict(
    full_pipeline: DetectionPipeline,
    photos: dict[str, bytes],
    reference: Callable[[Case], Reference],
    case: Case,
    record_property,
) -> None:
    (response,) = answer_bodies(full_pipeline, [_request(photos, *case)])
    difference = _max_difference(response, reference(case))
    record_property("largest difference from the reference predict", difference)
    assert difference <= TOLERANCE


def test_batched_requests_match_reference_predict_on_each_alone(
    full_pipeline: DetectionPipeline,
    photos: dict[str, bytes],
    reference: Callable[[Case], Reference],
    record_property,
) -> None:
    # the last case shares its image shape, so its model call, with the first
    cases = [*CASES, ("astronaut.png", "helmet . glove", 0.82)]
    responses = answer_bodies(full_pipeline, [_request(photos, *case) for case in cases])
    difference = max(_max_difference(r, reference(case)) for r, case in zip(responses, cases))
    record_property("largest difference from the reference predict, batched", difference)
    assert difference <= TOLERANCE
