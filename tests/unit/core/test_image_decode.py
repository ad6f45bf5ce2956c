"""Image decoding: formats, modes, orientation, and refusals (corrupt, truncated, too large)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from PIL import Image

from handler.contract.errors import InvalidInput
from handler.core.image_decode import decode_image
from tests.support.images import encode

LIMIT = 40_000_000


def gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    x = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :].repeat(size[1], 0)
    rgb = np.stack([x, x[:, ::-1], np.full_like(x, 90)], axis=-1)
    return Image.fromarray(rgb, "RGB").convert(mode) if mode != "RGB" else Image.fromarray(rgb, "RGB")


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header (with a valid CRC) claims ``width`` x ``height`` but holds a 64x64 picture."""
    data = encode(gradient(size=(64, 64)), "PNG")
    header = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[24:29]
    return data[:12] + header + zlib.crc32(header).to_bytes(4, "big") + data[33:200]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_supported_formats_decode_to_rgb_with_size(fmt):
    decoded = decode_image(encode(gradient(), fmt), LIMIT)
    assert decoded.pixels.mode == "RGB" and decoded.size == (64, 48)


def test_gif_uses_first_frame():
    frames = [Image.new("RGB", (20, 10), color) for color in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    red, green, blue = decode_image(data, LIMIT).pixels.getpixel((5, 5))
    assert red > 200 and blue < 50


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "LA", "1"])
def test_modes_are_converted_to_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode in ("LA",) else "PNG"
    decoded = decode_image(encode(gradient(mode), fmt), LIMIT)
    assert decoded.pixels.mode == "RGB" and decoded.size == (64, 48)


def test_sixteen_bit_grey_is_scaled_not_clipped():
    grey16 = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert decode_image(encode(grey16, "PNG"), LIMIT).pixels.getpixel((0, 0)) == (255, 255, 255)
    mid = Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16))
    assert decode_image(encode(mid, "PNG"), LIMIT).pixels.getpixel((0, 0)) == (128, 128, 128)


def test_exif_orientation_is_applied_so_size_is_as_displayed():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    decoded = decode_image(encode(gradient(), "JPEG", exif=exif), LIMIT)
    assert decoded.size == (48, 64)


def test_bytes_that_are_not_an_image_are_rejected():
    with pytest.raises(InvalidInput, match="not a readable image"):
        decode_image(b"hello, I am text", LIMIT)


def test_empty_bytes_are_rejected():
    with pytest.raises(InvalidInput, match="empty"):
        decode_image(b"", LIMIT)


def test_truncated_image_is_rejected():
    data = encode(gradient(size=(256, 256)), "PNG")
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2], LIMIT)


def test_image_over_pixel_limit_is_rejected_from_its_header_before_decoding():
    # A header that claims 100000 x 100000 pixels with almost no data behind it: decoding would
    # fail as truncated, so an ImageTooLarge error proves the limit is checked first.
    with pytest.raises(InvalidInput) as info:
        decode_image(png_claiming(100000, 100000), LIMIT)
    assert info.value.error_type == "ImageTooLarge" and "limit" in info.value.message


def test_image_between_limit_and_pillow_bomb_size_is_rejected_by_our_limit():
    # 48 MP: under Pillow's own bomb threshold, over our 40 MP default
    with pytest.raises(InvalidInput, match="8000x6000 = 48000000 pixels; the limit is 40000000"):
        decode_image(png_claiming(8000, 6000), LIMIT)


def test_pixel_limit_is_configurable():
    with pytest.raises(InvalidInput, match="3072 pixels; the limit is 1000"):
        decode_image(encode(gradient(), "PNG"), 1000)
