"""Mask encodings the server answers with and the client reads: COCO RLE and pixel-edge polygons.

A mask is a boolean ``(height, width)`` array at the displayed image's size.

* COCO compressed RLE, ``{"size": [h, w], "counts": "..."}``: pycocotools' own encoder, so
  ``pycocotools.mask.decode`` (and every COCO tool) reads it back to the same pixels. Lossless.
* Polygons, ``[[x1, y1, x2, y2, ...], ...]`` in pixels: the outer boundary of each 4-connected
  region, traced on pixel edges (pixel ``(row, col)`` covers ``x`` in ``[col, col + 1)``, COCO's
  convention) by contourpy's marching squares. pycocotools rasterises them back to the same pixels;
  holes are left out (COCO, YOLO and Label Studio polygons are filled shapes: ask for RLE to keep them).

Torch-free: numpy, pycocotools and contourpy only (all in the client's requirements).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Rle = dict[str, Any]  # {"size": [h, w], "counts": str}
Polygons = list[list[float]]  # flat [x1, y1, x2, y2, ...] per region
MASK_FORMATS = ("rle", "polygon")


def _bool_mask(mask: Any) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask is 2-D (height, width), got shape {array.shape}")
    return array.astype(bool, copy=False)


def _coco_rle(rle: Mapping[str, Any]) -> dict[str, Any]:
    """The form pycocotools reads: counts as bytes."""
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
    }


def encode_rle(mask: Any) -> Rle:
    """COCO compressed RLE of one mask, JSON-ready (counts as ASCII text)."""
    from pycocotools import mask as coco_mask

    encoded = coco_mask.encode(np.asfortranarray(_bool_mask(mask).astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def decode_rle(rle: Mapping[str, Any]) -> np.ndarray:
    """The boolean mask of a COCO RLE (compressed, counts as text or bytes)."""
    from pycocotools import mask as coco_mask

    return coco_mask.decode(_coco_rle(rle)).astype(bool)


def rle_area(rle: Mapping[str, Any]) -> int:
    """Pixels in the mask of a COCO RLE."""
    from pycocotools import mask as coco_mask

    return int(coco_mask.area(_coco_rle(rle)))


def _drop_collinear(points: np.ndarray) -> np.ndarray:
    """A closed polygon's vertices without those on the line through their neighbours (lossless)."""
    if len(points) < 4:
        return points
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    cross = (points[:, 0] - before[:, 0]) * (after[:, 1] - points[:, 1]) - (points[:, 1] - before[:, 1]) * (
        after[:, 0] - points[:, 0]
    )
    keep = np.abs(cross) > 1e-9
    return points[keep] if keep.sum() >= 3 else points


def polygons(mask: Any) -> Polygons:
    """The outer boundary of each region of ``mask`` as a flat ``[x1, y1, ...]`` list in pixel-edge
    coordinates, largest region first; no polygon for an empty mask."""
    import contourpy

    array = _bool_mask(mask)
    if not array.any():
        return []
    padded = np.pad(array, 1).astype(np.float64)  # regions touching the border get closed outlines
    generator = contourpy.contour_generator(z=padded, name="serial", fill_type=contourpy.FillType.OuterOffset)
    points, offsets = generator.filled(0.5, 2.0)
    outlines = []
    for region, starts in zip(points, offsets):
        outer = region[starts[0] : starts[1] - 1] - 0.5  # the first outline is the outer one; drop the closing point
        outer = _drop_collinear(outer)
        if len(outer) >= 3:
            outlines.append(outer)
    outlines.sort(key=lambda outline: -abs(_area(outline)))
    return [[float(v) for v in outline.reshape(-1)] for outline in outlines]


def _area(outline: np.ndarray) -> float:
    x, y = outline[:, 0], outline[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygons_to_mask(regions: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Rasterise polygons as COCO tools do (pycocotools), their union as one boolean mask."""
    from pycocotools import mask as coco_mask

    if not regions:
        return np.zeros((height, width), dtype=bool)
    rles = coco_mask.frPyObjects([list(map(float, region)) for region in regions], height, width)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The boolean mask of an answer's mask, whichever format it came in (RLE object or polygons)."""
    if isinstance(segmentation, Mapping):
        return decode_rle(segmentation)
    return polygons_to_mask(segmentation, height, width)
