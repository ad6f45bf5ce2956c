"""Decompression bombs in every supported format are refused from the header, before any pixel is decoded.

Each file is a real small encoding whose header is rewritten to claim a huge canvas; the
decoder must answer ImageTooLarge without calling ``load`` (which would allocate the pixels).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile

from handler.contract.errors import InvalidInput
from handler.core.image_decode import decode_image
from tests.support.image_bombs import BOMBS

MAX_PIXELS = 40_000_000
# Over the service's 40 MP limit but under Pillow's own bomb error (2 x 89.5 MP), and far over both.
SIZES = {"49MP": (7_000, 7_000), "256MP": (16_000, 16_000)}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", BOMBS)
def test_bomb_header_claims_the_canvas_in_its_format(fmt, size, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard off: read the header as is
    with Image.open(io.BytesIO(BOMBS[fmt](*SIZES[size]))) as image:
        assert (image.format, image.size) == (fmt, SIZES[size])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fmt", BOMBS)
def test_bomb_is_refused_as_too_large_before_any_pixel_is_decoded(fmt, size, monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InvalidInput) as error:
        decode_image(BOMBS[fmt](*SIZES[size]), MAX_PIXELS)
    assert error.value.error_type == "ImageTooLarge" and "limit" in error.value.message
