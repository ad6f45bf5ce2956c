"""A small COCO-format set of real photos with hand-written boxes (a pytest fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
