"""Test helpers shared by every test module: paths, configs and encoders.

Fixtures live in conftest.py; plain helpers live here, under a name no other module shares.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parent.parent

TINY_CONFIG = REPO / "model_config" / "GroundingDINO_tiny_test.py"
FULL_CONFIG = REPO / "model_config" / "GroundingDINO_SwinT_OGC.py"
# Small images keep CPU tests fast; every other setting is the service default.
TEST_HANDLER_SETTINGS = {"resize_short": 320, "resize_max": 512}


def encode(image: Image.Image, fmt: str = "PNG", **save_args: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()
# 400 distinct names of one to three words, many split into word pieces (e.g. "kilo17" -> kilo ##17)
NAMES_400 = [f"{_WORDS[i % 16]}{i} {_WORDS[(i // 16) % 16]}" if i % 3 else f"{_WORDS[i % 16]} {i}" for i in range(400)]
