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

from gdino_serve.tools.compare_detections import match_detections, query_detections
from handler.core.pipeline import DetectionPipeline
from tests.support.model_inputs import NAMES_400

logger = logging.getLogger(__name__)
TOP, IOU = 100, 0.99
# Set from what this test measured (docs/performance.md): at least MATCHED of the TOP boxes found
# again, and those within these score and box (normalised coordinate) differences.
MATCHED, SCORE_TOLERANCE, BOX_TOLERANCE = 95, 1e-3, 1e-3
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
        answers.append(query_detections(scores.probs[0], scores.boxes[0]))
    match = match_detections(answers[0], answers[1], TOP)
    matched = [(score, box) for score, box, iou in zip(match.score_diffs, match.box_diffs, match.ious) if iou > IOU]
    score_diff = max(score for score, _ in matched)
    box_diff = max(box for _, box in matched)
    logger.info(
        "%s, %d-character caption: %d of the top %d boxes matched at IoU > %.2f; largest score difference %.3g, box %.3g",
        photo,
        len(caption),
        len(matched),
        TOP,
        IOU,
        score_diff,
        box_diff,
    )
    record_property(f"top-{TOP} boxes matched ({photo})", len(matched))
    record_property(f"largest matched score difference ({photo})", score_diff)
    record_property(f"largest matched box difference ({photo})", box_diff)
    assert len(matched) >= MATCHED
    assert score_diff <= SCORE_TOLERANCE and box_diff <= BOX_TOLERANCE
