"""Large JPEGs decode at reduced scale, never below the model input, with the full size reported."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from gdino_serve.tools.compare_detections import mean_agreement
from gdino_serve.tools.sample_photos import photo_bytes
from handler.core.batching import ModelInput, predict_batch
from handler.core.image_decode import decode_image
from handler.core.pipeline import DetectionPipeline
from handler.core.postprocess import build_detections
from handler.frontends.http.replies import detections_body
from tests.support.images import encode

MAX_PIXELS = 40_000_000
# Decoding at 1/2 scale averages 2x2 pixels in the DCT domain before Pillow's bilinear filter,
# which averages anyway: the model inputs differ by about one grey level (0.02 after normalising
# by std ~0.225 and 255) on average.
# The random-weight model moves its boxes under any invisible input change (see
# scripts/compare_detections.py), so the drafted input must not move the top detections more than
# the same change with its structure destroyed (its values shuffled over the pixels) does, within
# 0.1 IoU / 0.03 score: drafting adds no error beyond its one grey level of difference.
TOP = 10
IOU_MARGIN = 0.1
SCORE_MARGIN = 0.03


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 12-megapixel JPEG (4000x3000) made from a real photo."""
    photo = Image.open(io.BytesIO(photo_bytes("chelsea.png"))).convert("RGB")
    return encode(photo.resize((4000, 3000), Image.BICUBIC), "JPEG", quality=90)


def test_drafted_decode_changes_detections_no_more_than_an_unstructured_change_of_the_same_size(
    big_jpeg: bytes, pipeline: DetectionPipeline
) -> None:
    full_png = encode(decode_image(big_jpeg, MAX_PIXELS).pixels)  # lossless: the pipeline decodes it fully
    full, drafted = (pipeline.prepare({"image": image, "caption": b"a cat . a dog"}) for image in (full_png, big_jpeg))
    difference = (drafted.image - full.image).flatten()
    shuffled = difference[torch.randperm(difference.numel(), generator=torch.Generator().manual_seed(0))]
    images = (full.image, drafted.image, full.image + shuffled.view_as(full.image))
    inputs = [ModelInput(image, full.request.caption, full.request.box_threshold) for image in images]
    reference, candidate, noisy = (
        detections_body(build_detections([raw], full.prompt, full.request, full.size, pipeline.detector.tokenizer))
        for raw in predict_batch(pipeline.detector, inputs, pipeline.limits)
    )
    assert candidate["image_size"] == [4000, 3000]
    iou, score_diff = mean_agreement([reference], [candidate], TOP)
    noise_iou, noise_score_diff = mean_agreement([reference], [noisy], TOP)
    assert iou >= noise_iou - IOU_MARGIN, (iou, noise_iou)
    assert score_diff <= noise_score_diff + SCORE_MARGIN, (score_diff, noise_score_diff)
