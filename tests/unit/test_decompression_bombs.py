"""Decompression bombs in every supported format are refused from the header, before any pixel is decoded.

Each file is a real small encoding whose header is rewritten to claim a huge canvas; the
decoder must answer ImageTooLarge without calling ``load`` (which would allocate the pixels).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageFile

from handler.core.errors import InvalidInput
from handler.core.image_decode import decode_image
from handler.testing import encode

MAX_PIXELS = 40_000_000
SMALL = Image.new("RGB", (64, 48), (10, 200, 30))


def png_bomb(width: int, height: int) -> bytes:
    data = encode(SMALL, "PNG")
    header = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + header + struct.pack(">I", zlib.crc32(header)) + data[33:]


def gif_bomb(width: int, height: int) -> bytes:
    data = bytearray(encode(SMALL, "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    descriptor = data.index(b"\x2c")  # image descriptor: left, top, width, height
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_bomb(width: int, height: int) -> bytes:
    data = bytearray(encode(SMALL, "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_bomb(width: int, height: int) -> bytes:
    data = bytearray(encode(SMALL, "TIFF"))
    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, ifd)
    for index in range(entries):
        entry = ifd + 2 + 12 * index
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, width if tag == 256 else height)
    return bytes(data)


def webp_bomb(width: int, height: int) -> bytes:
    data = bytearray(encode(SMALL, "WEBP", lossless=True))
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = (width - 1) | ((height - 1) << 14) | ((struct.unpack_from("<I", data, 21)[0] >> 28) << 28)
    struct.pack_into("<I", data, 21, bits)  # 14-bit width-1 and height-1
    return bytes(data)


BOMBS: dict[str, Callable[[int, int], bytes]] = {
    "PNG": png_bomb,
    "GIF": gif_bomb,
    "BMP": bmp_bomb,
    "TIFF": tiff_bomb,
    "WEBP": webp_bomb,
}


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
