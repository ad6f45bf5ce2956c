"""Stage 2: decode image bytes into an upright 8-bit RGB picture, refusing what cannot be decoded.

Accepts what Pillow reads (JPEG, PNG, WebP, BMP, TIFF, GIF: first frame). EXIF orientation is
applied so boxes refer to the image as displayed. The pixel limit is checked from the header,
before the pixels are decoded, so decompression bombs cost nothing.

A JPEG larger than the model needs is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling,
Pillow's ``draft``), never below the model's input size: a 12-megapixel photo decodes several
times faster. The reported size stays the full displayed size, which boxes refer to.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from handler.contract.errors import ErrorType, InvalidInput

SUPPORTED = "JPEG, PNG, WebP, BMP, TIFF, GIF"
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = (5, 6, 7, 8)  # EXIF orientations that rotate by 90 or 270 degrees

TargetSize = Callable[[int, int], tuple[int, int]]  # displayed (width, height) -> model input size


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise InvalidInput("'image' is empty", ErrorType.INVALID_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(f"image has more pixels than the limit of {max_pixels}", ErrorType.IMAGE_TOO_LARGE) from None
    except (UnidentifiedImageError, OSError, ValueError):  # ValueError: e.g. a TIFF header's bad dimensions
        raise InvalidInput(
            f"'image' is not a readable image; supported: {SUPPORTED}", ErrorType.INVALID_IMAGE
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidInput(
            f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}", ErrorType.IMAGE_TOO_LARGE
        )
    if width == 0 or height == 0:
        raise InvalidInput("image has no pixels", ErrorType.INVALID_IMAGE)
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: 16-bit and 32-bit integer grey are scaled, not clipped."""
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), mode="L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), mode="L")
    return image if image.mode == "RGB" else image.convert("RGB")


@dataclass(frozen=True)
class DecodedImage:
    """RGB pixels plus the size (width, height) of the full image as displayed; boxes refer to it.

    ``pixels`` may be smaller than ``size`` (a JPEG decoded at reduced scale), never smaller than
    the model input computed from ``size``.
    """

    pixels: Image.Image
    size: tuple[int, int]


def _draft_for(image: Image.Image, target_size: TargetSize) -> tuple[int, int]:
    """Let a JPEG decode at reduced scale, no smaller than the model input; return the displayed size."""
    width, height = image.size
    swapped = image.getexif().get(_EXIF_ORIENTATION) in _SWAPS_AXES
    displayed = (height, width) if swapped else (width, height)
    if image.format == "JPEG":
        target_width, target_height = target_size(*displayed)
        image.draft("RGB", (target_height, target_width) if swapped else (target_width, target_height))
    return displayed


def decode_image(data: bytes, max_pixels: int, target_size: TargetSize | None = None) -> DecodedImage:
    """Decode ``data`` into an upright RGB image; with ``target_size``, a JPEG no larger than needed."""
    image = _open(data, max_pixels)
    try:
        displayed = _draft_for(image, target_size) if target_size else None
        image.load()
        image = _to_rgb(ImageOps.exif_transpose(image))
        return DecodedImage(pixels=image, size=displayed or image.size)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"image data is truncated or corrupt ({exc})", ErrorType.INVALID_IMAGE) from None
