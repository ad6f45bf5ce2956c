"""End to end against a real TorchServe (random-weight tiny model): real photos in sub-folders
plus a corrupt file, stopped after two images and resumed, then every format checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pycocotools.coco import COCO

from gdino_client import Summary, annotate
from gdino_serve.tools.sample_photos import photo_bytes
from tests.support.image_folders import write_images

pytestmark = pytest.mark.integration  # starts a real TorchServe

CLASSES = ["person", "cat", "rocket", "cup"]
PHOTOS = {
    "astronaut.png": "astronaut.png",
    "coffee.png": "coffee.png",
    "sub/chelsea.png": "chelsea.png",
    "sub/deeper/rocket.jpg": "rocket.jpg",
    "sub/motorcycle_left.png": "motorcycle_left.png",
}
CORRUPT = "sub/corrupt.jpg"


@pytest.fixture(scope="module")
def served_run(served_model: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Summary, Summary]:
    """Annotate the folder in two runs: the first stops after two images, the second finishes."""
    root = tmp_path_factory.mktemp("served")
    images = {key: photo_bytes(name) for key, name in PHOTOS.items()}
    folder = write_images(root / "photos", {**images, CORRUPT: photo_bytes("rocket.jpg")[:5000]})
    out = root / "out"
    settings = dict(classes=CLASSES, box_threshold=0.8, text_threshold=0.25, concurrency=4, progress=False)
    first = annotate(folder, out, served_model.url, limit=2, **settings)
    second = annotate(folder, out, served_model.url, draw=True, **settings)
    return folder, out, first, second


def test_stopped_run_resumes_and_reports_the_corrupt_file(served_run: tuple[Path, Path, Summary, Summary]) -> None:
    _, out, first, second = served_run
    assert (first.done, first.pending) == (2, 4)
    assert (second.images, second.done, second.resumed, second.pending) == (6, 5, 2, 0)
    assert list(second.failed) == [CORRUPT] and "not a readable image" in second.failed[CORRUPT]
    lines = (out / "responses.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["path"] for line in lines) == sorted(PHOTOS)
    assert sum(second.detections.values()) + second.unmatched > 0


def test_coco_from_the_real_service_loads_and_matches_its_responses(
    served_run: tuple[Path, Path, Summary, Summary],
) -> None:
    folder, out, _, summary = served_run
    responses = {r["path"]: r["response"] for r in map(json.loads, (out / "responses.jsonl").read_text().splitlines())}
    coco = COCO(str(out / "coco.json"))
    assert [c["name"] for c in coco.dataset["categories"]] == CLASSES
    assert sorted(image["file_name"] for image in coco.dataset["images"]) == sorted(PHOTOS)
    for image in coco.dataset["images"]:
        response = responses[image["file_name"]]
        with Image.open(folder / image["file_name"]) as original:
            assert [image["width"], image["height"]] == response["image_size"] == list(original.size)
        expected = [  # the service names each box's class: category ids are its class ids + 1
            ([x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)], score, class_id + 1)
            for (x1, y1, x2, y2), score, class_id in zip(response["boxes"], response["scores"], response["class_ids"])
        ]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert [(a["bbox"], a["score"], a["category_id"]) for a in annotations] == expected
    assert len(coco.dataset["annotations"]) == sum(summary.detections.values()) > 0
    assert len(coco.loadRes(coco.dataset["annotations"]).getAnnIds()) == len(coco.dataset["annotations"])


def test_yolo_and_labelstudio_from_the_real_service_are_well_formed(
    served_run: tuple[Path, Path, Summary, Summary],
) -> None:
    _, out, _, summary = served_run
    yolo_lines = [line for path in (out / "yolo" / "labels").rglob("*.txt") for line in path.read_text().splitlines()]
    assert len(yolo_lines) == sum(summary.detections.values())
    for line in yolo_lines:
        class_id, *values = line.split()
        assert 0 <= int(class_id) < len(CLASSES) and all(0.0 <= float(v) <= 1.0 for v in values)
    tasks = json.loads((out / "labelstudio.json").read_text())
    assert len(tasks) == len(PHOTOS)
    regions = [region for task in tasks for region in task["predictions"][0]["result"]]
    assert len(regions) == len(yolo_lines)
    for region in regions:
        assert region["value"]["rectanglelabels"][0] in CLASSES
        assert all(0.0 <= region["value"][k] <= 100.0 for k in ("x", "y", "width", "height"))


def test_annotated_pictures_keep_the_original_size(served_run: tuple[Path, Path, Summary, Summary]) -> None:
    folder, out, _, _ = served_run
    for key in PHOTOS:
        with Image.open(out / "annotated" / key) as drawn, Image.open(folder / key) as original:
            assert drawn.size == original.size
