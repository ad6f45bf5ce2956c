"""Boxes in the caller's format: corners, corner + size or centre + size, in pixels or 0..1.

Boxes are first clipped to the image in pixels, so every format describes the same visible box.
Rounding for transport is the front end's job.
"""

from __future__ import annotations

import torch
from torchvision.ops import box_convert

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def to_pixel_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Normalised (cx, cy, w, h) to pixel (x1, y1, x2, y2), clipped to the image."""
    width, height = size
    scale = torch.tensor([width, height, width, height], dtype=boxes.dtype)
    xyxy = box_convert(boxes * scale, in_fmt="cxcywh", out_fmt="xyxy")
    xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, width)
    xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, height)
    return xyxy


def format_boxes(xyxy: torch.Tensor, size: tuple[int, int], box_format: str, normalized: bool) -> torch.Tensor:
    """Pixel (x1, y1, x2, y2) boxes in ``box_format``, optionally divided by the image size."""
    boxes = box_convert(xyxy, in_fmt="xyxy", out_fmt=box_format)
    if normalized:
        width, height = size
        boxes = boxes / torch.tensor([width, height, width, height], dtype=boxes.dtype)
    return boxes
