"""COCO detection JSON: images, categories from the class list, and one annotation per box
(``bbox`` as [x, y, width, height] in pixels, with ``score``), loadable by ``pycocotools``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_json
from gdino_client.results import ImageResult


def coco_document(results: Sequence[ImageResult], classes: ClassList) -> dict[str, Any]:
    """Image ids count from 1 in the order of ``results``; category id = class id + 1."""
    images, annotations = [], []
    for image_id, result in enumerate(results, 1):
        images.append({"id": image_id, "file_name": result.key, "width": result.width, "height": result.height})
        for detection in result.labelled:
            x, y, w, h = (round(v, 2) for v in detection.xywh)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": detection.class_id + 1,
                    "bbox": [x, y, w, h],
                    "area": round(w * h, 2),
                    "iscrowd": 0,
                    "score": detection.score,
                }
            )
    categories = [{"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(classes.names)]
    return {
        "info": {"description": "GroundingDINO detections", "version": "1.0"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(results: Sequence[ImageResult], classes: ClassList, out: Path) -> Path:
    return write_json(out / "coco.json", coco_document(results, classes))
