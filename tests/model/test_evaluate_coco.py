"""The COCO evaluation with an in-process pipeline (a tiny random Hugging Face model)."""

from __future__ import annotations

import json

from gdino_serve.tools.evaluate_coco import METRICS
from tests.support.coco_set import CATEGORIES, PHOTO_BOXES


def test_in_process_pipeline_runs_end_to_end_and_prints_the_ap_table(coco_set, tmp_path, capsys) -> None:
    from gdino_serve.demo_hf_model import cached_random_hf_model
    from gdino_serve.tools.evaluate_coco import main

    images, instances = coco_set
    output = tmp_path / "detections.json"
    folder = cached_random_hf_model("mm-grounding-dino")
    main(["--images", str(images), "--annotations", str(instances), "--hf-model", str(folder), "--output", str(output)])
    header, values = capsys.readouterr().out.strip().splitlines()
    assert header.split() == [*" | ".join((*METRICS, "img/s")).split()]
    assert len(values.split("|")) == len(METRICS) + 1
    detections = json.loads(output.read_text())
    assert {d["image_id"] for d in detections} == set(range(1, len(PHOTO_BOXES) + 1))
    assert {d["category_id"] for d in detections} <= set(range(1, len(CATEGORIES) + 1))
