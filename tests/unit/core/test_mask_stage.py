"""The mask stage without a model: masks in the request's format, one per box, failures contained per request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image

from handler.contract.errors import ErrorType, InferenceError, ModelOutOfMemory
from handler.contract.mask_codec import decode_rle, polygons_to_mask
from handler.core.detections import Detections
from handler.core.masks import segment_or_error
from handler.core.model_calls import is_out_of_memory
from handler.core.request import DetectionRequest
from handler.core.segmenter import BoxMask
from tests.support.fault_injection import MASK_ERROR_WIDTH, MASK_OOM_ONCE_WIDTH, MASK_OOM_WIDTH, FaultInjectingSegmenter

pytestmark = pytest.mark.masks


class BoxFillingSegmenter:
    """Each box's mask is the box itself (pixels whose centre lies inside), its score the box's area share."""

    device = torch.device("cpu")

    def segment(
        self, pixels: Image.Image, size: tuple[int, int], boxes: torch.Tensor, threshold: float
    ) -> Iterator[BoxMask]:
        width, height = size
        columns, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        for x1, y1, x2, y2 in boxes.tolist():
            mask = (columns > x1) & (columns < x2) & (rows > y1) & (rows < y2)
            yield BoxMask(mask, float(mask.mean()))


def detections(width: int, boxes: list[list[float]], height: int = 30) -> Detections:
    pixel_boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    count = len(pixel_boxes)
    return Detections(
        boxes=pixel_boxes,
        scores=torch.full((count,), 0.5),
        class_ids=torch.zeros(count, dtype=torch.long),
        labels=("cat",) * count,
        phrases=("cat",) * count,
        image_size=(width, height),
        pixel_boxes=pixel_boxes,
    )


def request(**fields) -> DetectionRequest:
    return DetectionRequest(image=b"", caption="cat.", box_threshold=0.3, text_threshold=0.3, masks=True, **fields)


def run(segmenter, found: Detections, **fields) -> Detections | InferenceError:
    return segment_or_error(segmenter, found, Image.new("RGB", found.image_size), request(**fields))


def test_one_rle_per_box_at_the_image_size_with_its_score() -> None:
    found = run(BoxFillingSegmenter(), detections(40, [[2, 3, 12, 9], [20, 0, 40, 30]]))
    assert isinstance(found, Detections) and len(found.masks) == 2
    first, second = (decode_rle(rle) for rle in found.masks)
    assert first.shape == second.shape == (30, 40)
    assert first.sum() == 10 * 6 and first[3:9, 2:12].all() and second.sum() == 20 * 30
    assert torch.allclose(found.mask_scores, torch.tensor([60 / 1200, 600 / 1200]))


def test_polygons_when_asked_and_no_masks_for_no_boxes() -> None:
    found = run(BoxFillingSegmenter(), detections(40, [[2, 3, 12, 9]]), mask_format="polygon")
    assert np.array_equal(
        polygons_to_mask(found.masks[0], 30, 40),
        decode_rle(run(BoxFillingSegmenter(), detections(40, [[2, 3, 12, 9]])).masks[0]),
    )
    empty = run(BoxFillingSegmenter(), detections(40, []))
    assert empty.masks == () and empty.mask_scores.shape == (0,)


def test_out_of_memory_every_time_is_a_507_for_this_request_after_one_retry(caplog) -> None:
    segmenter = FaultInjectingSegmenter(BoxFillingSegmenter())
    with caplog.at_level(logging.WARNING):
        outcome = run(segmenter, detections(MASK_OOM_WIDTH, [[1, 1, 5, 5]]))
    assert isinstance(outcome, ModelOutOfMemory) and outcome.error_type == ErrorType.OUT_OF_MEMORY
    assert "mask model ran out of memory" in outcome.message and segmenter.calls == 2
    assert "retrying after releasing cached memory" in caplog.text and "answering 507" in caplog.text


def test_the_cpu_allocators_out_of_memory_is_retried_and_then_answered() -> None:
    segmenter = FaultInjectingSegmenter(BoxFillingSegmenter())
    outcome = run(segmenter, detections(MASK_OOM_ONCE_WIDTH, [[1, 1, 5, 5]]))
    assert isinstance(outcome, Detections) and len(outcome.masks) == 1 and segmenter.calls == 2


def test_another_failure_is_a_500_without_retry() -> None:
    segmenter = FaultInjectingSegmenter(BoxFillingSegmenter())
    outcome = run(segmenter, detections(MASK_ERROR_WIDTH, [[1, 1, 5, 5]]))
    assert type(outcome) is InferenceError and segmenter.calls == 1


def test_a_mask_model_that_answers_too_few_masks_is_a_500() -> None:
    class Short(BoxFillingSegmenter):
        def segment(self, pixels, size, boxes, threshold):
            yield from list(super().segment(pixels, size, boxes, threshold))[:-1]

    assert type(run(Short(), detections(40, [[1, 1, 5, 5], [2, 2, 6, 6]]))) is InferenceError


def test_out_of_memory_is_recognised_on_cuda_and_on_the_cpu() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory")) and is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError("memory"))
