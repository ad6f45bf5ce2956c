"""The core's answer for one image, before any protocol shapes it into JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Detections:
    """Kept detections of one image, highest score first (n rows everywhere).

    ``boxes`` are in the request's box format, in pixels of the displayed image or divided by
    its size when ``normalized``; front ends round them for transport. ``pixel_boxes`` are the
    same boxes as pixel (x1, y1, x2, y2), what a mask model is prompted with. ``masks`` (one per
    box, in the request's mask format: a COCO RLE object or polygons) and ``mask_scores`` are
    there when the request asked for masks, else None.
    """

    boxes: torch.Tensor  # float (n, 4)
    scores: torch.Tensor  # float (n,)
    class_ids: torch.Tensor  # long (n,): index into the request's classes
    labels: tuple[str, ...]  # class name of each detection
    phrases: tuple[str, ...]  # matched caption text of each detection
    image_size: tuple[int, int]  # (width, height) of the image as displayed
    normalized: bool = False
    pixel_boxes: torch.Tensor | None = None  # float (n, 4) x1, y1, x2, y2 in displayed pixels
    masks: tuple[Any, ...] | None = None
    mask_scores: torch.Tensor | None = None  # float (n,): the mask model's predicted IoU of each mask
