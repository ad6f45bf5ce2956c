"""Annotated pictures: each box drawn with its label and score on a copy of the image, and its
mask (a run with masks) as a translucent fill in the box's color under the boxes.

Readable on dark and light pictures alike: a box is a line in its class's color with a thin
halo in black or white, and its label sits on a filled tag of the class color, in black or
white text chosen by the color's luminance (WCAG). Boxes without a class are drawn in grey
with their phrase.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from gdino_client.classes import ClassList
from gdino_client.masks import mask_pixels
from gdino_client.results import Detection, ImageResult

PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
    (255, 255, 255),
)
UNMATCHED = (128, 128, 128)
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
MASK_OPACITY = 0.45


def luminance(color: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB color, 0 (black) .. 1 (white)."""
    channels = [c / 255 for c in color]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with ``background``."""
    return BLACK if luminance(background) > 0.179 else WHITE


def _caption(detection: Detection, classes: ClassList) -> str:
    name = classes.names[detection.class_id] if detection.class_id is not None else detection.phrase or "?"
    return f"{name} {detection.score:.2f}"


def _color(detection: Detection) -> tuple[int, int, int]:
    return PALETTE[detection.class_id % len(PALETTE)] if detection.class_id is not None else UNMATCHED


def fill_masks(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """``image`` (RGB) with each detection's mask blended in its color, best on top."""
    pixels = np.asarray(image, dtype=np.float32).copy()
    for detection in sorted(detections, key=lambda d: d.score):
        if detection.mask is None:
            continue
        inside = mask_pixels(detection.mask, image.width, image.height)
        pixels[inside] = pixels[inside] * (1 - MASK_OPACITY) + np.asarray(_color(detection)) * MASK_OPACITY
    return Image.fromarray(np.rint(pixels).astype(np.uint8))


def draw_detections(image: Image.Image, detections: Sequence[Detection], classes: ClassList) -> Image.Image:
    """A copy of ``image`` (RGB) with ``detections`` drawn on it (their masks first, if any)."""
    canvas = image.convert("RGB")
    if any(detection.mask is not None for detection in detections):
        canvas = fill_masks(canvas, detections)
    draw = ImageDraw.Draw(canvas)
    side = min(canvas.size)
    width = max(2, side // 250)
    font = ImageFont.load_default(size=max(12, side // 40))
    for detection in sorted(detections, key=lambda d: d.score):  # best drawn last, on top
        color = _color(detection)
        contrast = text_color(color)
        x1, y1, x2, y2 = detection.box
        draw.rectangle((x1 - 1, y1 - 1, x2 + 1, y2 + 1), outline=contrast, width=width + 2)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=width)
        text = _caption(detection, classes)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_w, tag_h = right - left + 2 * width, bottom - top + 2 * width
        tag_y = y1 - tag_h if y1 - tag_h >= 0 else y1  # above the box, inside it at the top edge
        tag_x = min(max(0.0, x1), max(0.0, canvas.width - tag_w))
        draw.rectangle((tag_x, tag_y, tag_x + tag_w, tag_y + tag_h), fill=color, outline=contrast)
        draw.text((tag_x + width - left, tag_y + width - top), text, fill=contrast, font=font)
    return canvas


def write_annotated(result: ImageResult, source: Path, out: Path, classes: ClassList) -> Path:
    """Draw ``result`` on the upright image at ``source``; saved at ``out/<key>`` in the same format."""
    target = out / result.key
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as original:
        upright = ImageOps.exif_transpose(original)
        drawn = draw_detections(upright, result.detections, classes)
        fmt = original.format or "PNG"
    drawn.save(target, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return target
