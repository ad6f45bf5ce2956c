"""Images as requests carry them: encoded bytes and base64 text (Pillow only, no torch)."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **save_args: Any) -> bytes:
    """``image`` encoded as ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    """``data`` as base64 text, as JSON requests carry images."""
    return base64.b64encode(data).decode("ascii")
