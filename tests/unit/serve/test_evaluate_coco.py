"""The COCO evaluation (gdino_serve/tools/evaluate_coco.py) on a small COCO-format set of real photos."""

from __future__ import annotations

import pytest

from gdino_serve.tools.evaluate_coco import parse_args, run


def test_ground_truth_fed_back_as_detections_scores_ap_one(coco_set) -> None:
    images, instances = coco_set
    evaluation = run(parse_args(["--images", str(images), "--annotations", str(instances), "--ground-truth"]))
    assert evaluation.metrics["AP"] == pytest.approx(1.0)
    assert evaluation.metrics["AP50"] == evaluation.metrics["AP75"] == pytest.approx(1.0)
