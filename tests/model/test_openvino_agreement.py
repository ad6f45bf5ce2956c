"""The openvino back end answers as the upstream back end does on the same checkpoint.

The full Swin-T OGC random checkpoint, converted, against the same checkpoint in PyTorch, on real
photos at the invariance tests' small sizes. Both compute in FP32 but round differently (other
kernels, other reduction orders), and the top-900 query selection can turn a last-digit difference
into another query: so each answer's best 100 queries (by best token probability) are matched box
to box (``compare_detections``), and the test counts the boxes found again at IoU > 0.99 and takes
the largest score and box differences of those. Random weights amplify such differences (every
query scores above 0.35 and the selection is a near tie), so these bounds are loose for a real
checkpoint. The figures are logged and recorded (``pytest --log-cli-level=INFO``).
"""

from __future__ import annotations

import logging

import pytest

from gdino_serve.tools.compare_detections import query_agreement
from handler.core.pipeline import DetectionPipeline
from tests.support.model_inputs import NAMES_400

pytestmark = pytest.mark.openvino
logger = logging.getLogger(__name__)
TOP, IOU = 100, 0.99
# Set from what this test measured (one run, 2 threads): 99, 62, 27 and 100 of the top 100 boxes
# found again (the long caption lowest), the largest score difference 2.1e-4 and box difference
# 5.5e-4 among them. The same checkpoint in PyTorch on 1 thread against 2 (the noise floor of
# rounding alone) found 100, 100, 81 and 100, within 4.9e-5 and 1.9e-4.
MATCHED, SCORE_TOLERANCE, BOX_TOLERANCE = 20, 1e-3, 2e-3
CASES = [
    ("coffee.png", "cup . saucer . a silver spoon ."),
    ("astronaut.png", "person . flag . helmet ."),
    ("rocket.jpg", " . ".join(NAMES_400[:60]) + " ."),
    ("chelsea.png", "cat ."),
]


@pytest.mark.parametrize(("photo", "caption"), CASES)
def test_openvino_finds_the_upstream_top_boxes(
    full_pipeline: DetectionPipeline, full_openvino_pipeline: DetectionPipeline, photos, photo, caption, record_property
) -> None:
    image = full_pipeline.prepare({"image": photos[photo], "caption": caption}).image[None]
    answers = []
    for pipeline in (full_pipeline, full_openvino_pipeline):
        detector = pipeline.detector
        scores = detector.decode(detector.encode_images(image), [0], [caption])
        answers.append((scores.probs[0], scores.boxes[0]))
    agreement = query_agreement(*answers, top=TOP, iou=IOU)
    logger.info("%s, %d-character caption: %s", photo, len(caption), agreement)
    record_property(f"top-{TOP} boxes matched at IoU > {IOU} ({photo})", agreement.matched)
    record_property(f"largest matched score difference ({photo})", agreement.max_score_diff)
    record_property(f"largest matched box difference ({photo})", agreement.max_box_diff)
    assert agreement.matched >= MATCHED
    assert agreement.max_score_diff <= SCORE_TOLERANCE
    assert agreement.max_box_diff <= BOX_TOLERANCE
