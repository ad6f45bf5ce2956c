"""Stage 6: a mask for every kept box of the requests that ask for masks ("Grounded-SAM").

After thresholds, NMS and ``max_detections``, each such request's pixel boxes prompt the
:class:`~handler.core.segmenter.Segmenter` on its own image. Each mask is encoded right away in
the request's format (COCO RLE or polygons, ``handler.contract.mask_codec``), so a batch never
holds more than one full-size boolean mask.

Exactness: a box's mask depends on its image and its box only (the back end runs one image and
one box per model call), so a request's masks are the same alone, batched with other requests,
or retried. A failure costs only its request: out of memory releases the device's cached memory
and retries the request once (the detector's cached blocks may be what was missing), then
answers 507; any other failure answers 500. The other requests of the batch keep their masks.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import torch
from PIL import Image

from handler.contract.errors import InferenceError, ModelOutOfMemory
from handler.contract.mask_codec import encode_rle, polygons
from handler.core.detections import Detections
from handler.core.model_calls import failure_reason, is_out_of_memory, release_cached_memory
from handler.core.request import DetectionRequest
from handler.core.segmenter import Segmenter

logger = logging.getLogger(__name__)

ATTEMPTS = 2  # the first call, and one retry after releasing cached memory
MASKS_OUT_OF_MEMORY = (
    "the mask model ran out of memory on this request, even alone; retry later, or send a smaller image "
    "or ask for fewer boxes ('max_detections')"
)


def encode_mask(mask: Any, mask_format: str) -> Any:
    """One mask in the answer's format: a COCO RLE object, or a list of polygons."""
    return encode_rle(mask) if mask_format == "rle" else polygons(mask)


def segment(segmenter: Segmenter, detections: Detections, pixels: Image.Image, request: DetectionRequest) -> Detections:
    """``detections`` with one mask and mask score per box (raises what the mask model raises)."""
    boxes = detections.pixel_boxes
    assert boxes is not None, "masks need the detections' pixel boxes"
    masks, scores = [], []
    for item in segmenter.segment(pixels, detections.image_size, boxes, request.mask_threshold):
        masks.append(encode_mask(item.mask, request.mask_format))
        scores.append(item.score)
    if len(masks) != len(boxes):
        raise RuntimeError(f"the mask model answered {len(masks)} masks for {len(boxes)} boxes")
    return dataclasses.replace(detections, masks=tuple(masks), mask_scores=torch.tensor(scores, dtype=torch.float32))


def segment_or_error(
    segmenter: Segmenter, detections: Detections, pixels: Image.Image, request: DetectionRequest
) -> Detections | InferenceError:
    """Like :func:`segment`, but a failure becomes this request's error (507 out of memory, else 500)."""
    described = f"image {detections.image_size[0]}x{detections.image_size[1]}, {len(detections.scores)} boxes"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return segment(segmenter, detections, pixels, request)
        except Exception as exc:  # a request's failure must not take its batch down
            if not is_out_of_memory(exc):
                logger.error("mask model failed (%s): answering 500", described, exc_info=True)
                return InferenceError()
            reason = failure_reason(exc)
        # Outside the except block: its traceback holds the failed call's tensors.
        release_cached_memory(segmenter.device)
        if attempt < ATTEMPTS:
            logger.warning(
                "mask model ran out of memory (%s; %s): retrying after releasing cached memory", described, reason
            )
    logger.error("mask model ran out of memory again (%s; %s): answering 507", described, reason)
    return ModelOutOfMemory(MASKS_OUT_OF_MEMORY)
