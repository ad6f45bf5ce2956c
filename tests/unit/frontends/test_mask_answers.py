"""Masks in the answers: the default JSON body, KServe v2 output tensors and the stage metric."""

from __future__ import annotations

import json

import pytest
import torch

from handler.core.detections import Detections
from handler.frontends.http.kserve_protocol import parse_kserve, v2_outputs
from handler.frontends.http.replies import detections_body
from handler.frontends.torchserve.metrics import STAGE_METRICS

pytestmark = pytest.mark.masks

RLE = {"size": [30, 40], "counts": "d16400000000000000000`1"}


def detections(masks=None, mask_scores=None) -> Detections:
    return Detections(
        boxes=torch.tensor([[1.0, 2.0, 3.0, 4.0]]),
        scores=torch.tensor([0.9]),
        class_ids=torch.tensor([0]),
        labels=("cup",),
        phrases=("cup",),
        image_size=(40, 30),
        masks=masks,
        mask_scores=mask_scores,
    )


def test_masks_and_mask_scores_are_answered_only_when_asked() -> None:
    assert "masks" not in detections_body(detections()) and "mask_scores" not in detections_body(detections())
    body = detections_body(detections((RLE,), torch.tensor([0.8765432])))
    assert body["masks"] == [RLE] and body["mask_scores"] == [0.876543]
    polygon = [[1.0, 1.5, 1.5, 1.0, 2.0, 1.5, 1.5, 2.0]]
    assert detections_body(detections((polygon,), torch.tensor([0.5])))["masks"] == [polygon]


def test_kserve_v2_reads_the_mask_fields_and_answers_one_json_text_per_mask() -> None:
    fields = parse_kserve(
        {
            "inputs": [
                {"name": "image", "shape": [1], "datatype": "BYTES", "data": ["QUJD"]},
                {"name": "caption", "shape": [1], "datatype": "BYTES", "data": ["cup"]},
                {"name": "masks", "shape": [1], "datatype": "BOOL", "data": [True]},
            ],
            "parameters": {"mask_format": "rle"},
        }
    ).items[0]
    assert fields["masks"] is True and fields["mask_format"] == "rle"
    outputs = {o["name"]: o for o in v2_outputs(detections_body(detections((RLE,), torch.tensor([0.5]))))}
    assert outputs["masks"]["datatype"] == "BYTES" and outputs["masks"]["shape"] == [1]
    assert json.loads(outputs["masks"]["data"][0]) == RLE
    assert outputs["mask_scores"] == {"name": "mask_scores", "datatype": "FP32", "shape": [1], "data": [0.5]}


def test_the_mask_stage_has_its_torchserve_metric() -> None:
    assert STAGE_METRICS["masks"] == "GroundingDINOMasksTime"
