"""scripts/evaluate_coco on a small COCO-format set of real photos with hand-written boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.evaluate_coco import METRICS, parse_args, run

CATEGORIES = ["person", "cup", "cat", "rocket", "motorcycle", "spoon"]
# (file, width, height, [(category, [x, y, w, h]), ...]): boxes drawn by hand around the objects
PHOTO_BOXES = [
    ("astronaut.png", 512, 512, [("person", [60, 20, 400, 492]), ("rocket", [330, 0, 90, 150])]),
    ("coffee.png", 600, 400, [("cup", [120, 20, 360, 290]), ("spoon", [180, 160, 240, 90])]),
    ("chelsea.png", 451, 300, [("cat", [60, 10, 350, 290])]),
    ("rocket.jpg", 640, 427, [("rocket", [280, 40, 80, 387])]),
    ("motorcycle_left.png", 741, 500, [("motorcycle", [20, 60, 700, 420]), ("person", [400, 10, 30, 30])]),
]


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, bytes]) -> tuple[Path, Path]:
    """images/ and instances_test.json in COCO format."""
    root = tmp_path_factory.mktemp("coco")
    (root / "images").mkdir()
    images, annotations = [], []
    for image_id, (name, width, height, boxes) in enumerate(PHOTO_BOXES, start=1):
        (root / "images" / name).write_bytes(photos[name])
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for category, box in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CATEGORIES.index(category) + 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(CATEGORIES)]
    instances = root / "instances_test.json"
    instances.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return root / "images", instances


def test_ground_truth_fed_back_as_detections_scores_ap_one(coco_set) -> None:
    images, instances = coco_set
    evaluation = run(parse_args(["--images", str(images), "--annotations", str(instances), "--ground-truth"]))
    assert evaluation.metrics["AP"] == pytest.approx(1.0)
    assert evaluation.metrics["AP50"] == evaluation.metrics["AP75"] == pytest.approx(1.0)


def test_in_process_pipeline_runs_end_to_end_and_prints_the_ap_table(coco_set, tmp_path, capsys) -> None:
    from handler.hf_testing import cached_random_hf_model
    from scripts.evaluate_coco import main

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
