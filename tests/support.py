"""Test helpers shared by every test module: paths, configs, photos, encoders, cached checkpoints.

Fixtures live in conftest.py; plain helpers live here, under a name no other module shares.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.make_random_checkpoint import make_random_checkpoint  # noqa: E402
from scripts.setup_bert import setup_bert  # noqa: E402

TINY_CONFIG = REPO / "model_config" / "GroundingDINO_tiny_test.py"
FULL_CONFIG = REPO / "model_config" / "GroundingDINO_SwinT_OGC.py"
WEIGHTS_CACHE = REPO / "build" / "test-weights"
# Small images keep CPU tests fast; every other setting is the service default.
TEST_HANDLER_SETTINGS = {"resize_short": 320, "resize_max": 512}
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")


def photo_bytes(name: str) -> bytes:
    """The encoded bytes of one of scikit-image's sample photos."""
    import skimage

    return (Path(skimage.__file__).parent / "data" / name).read_bytes()


def encode(image: Image.Image, fmt: str = "PNG", **save_args: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def cached_checkpoint(config: Path, seed: int = 0) -> Path:
    """A deterministic random checkpoint for ``config``, made once and reused across runs."""
    setup_bert(offline=True)
    path = WEIGHTS_CACHE / f"{config.stem}-seed{seed}.pth"
    if not path.exists():
        make_random_checkpoint(config, path, seed)
    return path
