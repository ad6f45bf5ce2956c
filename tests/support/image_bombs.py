"""Decompression bombs: real small encodings whose headers claim a canvas of ``width`` x ``height``."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from PIL import Image

from tests.support.images import encode

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
