"""COCO detection JSON: images, categories from the class list, and one annotation per box
(``bbox`` as [x, y, width, height] in pixels, with ``score``), loadable by ``pycocotools``.
A run with masks adds each box's ``segmentation`` as the service sent it (COCO RLE, or polygons)
and takes ``area`` from the mask; ``COCOeval`` reads it with ``iouType="segm"``.
Category ids are class id + 1, or COCO's own ids for the ``coco`` vocabulary (so the file
evaluates against COCO's ground truth as it is)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_json
from gdino_client.masks import mask_area
from gdino_client.results import Detection, ImageResult
from handler.contract.mask_codec import encode_rle


def segmentation(detection: Detection, width: int, height: int) -> Any:
    """The box's mask as COCO stores it; an empty polygon list (nothing to outline) as the empty mask's RLE,
    which COCO tools read."""
    if detection.mask == []:
        return encode_rle(np.zeros((height, width), dtype=bool))
    return detection.mask


def coco_document(results: Sequence[ImageResult], classes: ClassList) -> dict[str, Any]:
    """Image ids count from 1 in the order of ``results``; category ids: :meth:`ClassList.category_id`."""
    images, annotations = [], []
    for image_id, result in enumerate(results, 1):
        images.append({"id": image_id, "file_name": result.key, "width": result.width, "height": result.height})
        for detection in result.labelled:
            x, y, w, h = (round(v, 2) for v in detection.xywh)
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": classes.category_id(detection.class_id),
                "bbox": [x, y, w, h],
                "area": round(w * h, 2),
                "iscrowd": 0,
                "score": detection.score,
            }
            if detection.mask is not None:
                annotation["segmentation"] = segmentation(detection, result.width, result.height)
                annotation["area"] = mask_area(annotation["segmentation"], result.width, result.height)
            annotations.append(annotation)
    categories = [
        {"id": classes.category_id(i), "name": name, "supercategory": ""} for i, name in enumerate(classes.names)
    ]
    return {
        "info": {"description": "GroundingDINO detections", "version": "1.0"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(results: Sequence[ImageResult], classes: ClassList, out: Path) -> Path:
    return write_json(out / "coco.json", coco_document(results, classes))
