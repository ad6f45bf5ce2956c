"""Masks on the client: what a run asks for, and each answered mask as pixels, polygons or area.

The service answers a mask per box as a COCO RLE object (lossless; the default) or as polygons
(``mask_format``). Every writer reads masks through this module, whichever format came:
COCO keeps the answer's own segmentation, YOLO and Label Studio polygons need polygons, Label
Studio brushes and drawn pictures need pixels. Label Studio's brush encoding is its own code
(``label_studio_converter.brush``, the optional ``labelstudio`` extra), not a copy of it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from handler.contract import defaults
from handler.contract.mask_codec import MASK_FORMATS, polygons, rle_area, segmentation_mask

BRUSH_EXTRA = 'Label Studio brush masks need the labelstudio extra: pip install ".[labelstudio]"'


@dataclass(frozen=True)
class MaskRequest:
    """The mask fields every request of a run sends."""

    mask_format: str = defaults.MASK_FORMAT
    threshold: float = defaults.MASK_THRESHOLD

    def __post_init__(self) -> None:
        if self.mask_format not in MASK_FORMATS or not 0.0 < self.threshold < 1.0:
            raise ValueError(
                f"mask format must be one of {', '.join(MASK_FORMATS)} and the mask threshold strictly between 0 "
                f"and 1, got {self.mask_format!r} and {self.threshold}"
            )

    def fields(self) -> dict[str, Any]:
        return {"masks": True, "mask_format": self.mask_format, "mask_threshold": self.threshold}


def mask_pixels(segmentation: Any, width: int, height: int) -> np.ndarray:
    """The boolean (height, width) mask of an answered mask."""
    return segmentation_mask(segmentation, height, width)


def mask_polygons(segmentation: Any, width: int, height: int) -> list[list[float]]:
    """The answered mask as polygons in pixels, largest first (traced when it came as RLE)."""
    if isinstance(segmentation, dict):
        return polygons(segmentation_mask(segmentation, height, width))
    return [list(map(float, region)) for region in segmentation]


def mask_area(segmentation: Any, width: int, height: int) -> int:
    """Pixels in the answered mask (for polygons: in their rasterisation, as COCO tools count it)."""
    if isinstance(segmentation, dict):
        return rle_area(segmentation)
    return int(mask_pixels(segmentation, width, height).sum())


def brush_available() -> bool:
    """Whether Label Studio's brush encoder (the labelstudio extra) is installed (without importing it:
    its package imports pandas and nltk, seconds)."""
    return importlib.util.find_spec("label_studio_converter") is not None


def brush_rle(pixels: np.ndarray) -> list[int]:
    """Label Studio's brush RLE of a boolean mask (RGBA, opaque inside), by Label Studio's own encoder."""
    try:
        from label_studio_converter.brush import mask2rle
    except ImportError:
        raise RuntimeError(BRUSH_EXTRA) from None
    return [int(value) for value in mask2rle(pixels.astype(np.uint8) * 255)]
