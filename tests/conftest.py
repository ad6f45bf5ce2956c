"""Shared fixtures: real photos, a small random-weight checkpoint, an in-process pipeline and a
real TorchServe serving a real .mar on free loopback ports."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from handler.pipeline import DetectionPipeline  # noqa: E402
from handler.settings import HandlerSettings  # noqa: E402
from scripts.build_mar import build_mar  # noqa: E402
from scripts.make_random_checkpoint import make_random_checkpoint  # noqa: E402
from scripts.setup_bert import setup_bert  # noqa: E402
from scripts.torchserve_runner import TorchServe  # noqa: E402

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


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {name: photo_bytes(name) for name in PHOTOS}


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Path:
    return cached_checkpoint(TINY_CONFIG)


@pytest.fixture(scope="session")
def make_pipeline(tiny_checkpoint: Path) -> Callable[..., DetectionPipeline]:
    """Build an in-process pipeline on the tiny config; keyword arguments override settings."""

    def make(**overrides: Any) -> DetectionPipeline:
        settings = HandlerSettings(model_config=f"model_config/{TINY_CONFIG.name}", **{**TEST_HANDLER_SETTINGS, **overrides})
        return DetectionPipeline.load(REPO, tiny_checkpoint, settings, torch.device("cpu"))

    return make


@pytest.fixture(scope="session")
def pipeline(make_pipeline: Callable[..., DetectionPipeline]) -> DetectionPipeline:
    return make_pipeline()


@pytest.fixture(scope="session")
def served_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """A real TorchServe with a real .mar (tiny config, batchSize 8) on free loopback ports."""
    store = tmp_path_factory.mktemp("model_store")
    build_mar(
        tiny_checkpoint, store, TINY_CONFIG,
        overrides={"batchSize": 8, "maxBatchDelay": 1000},
        handler_overrides=TEST_HANDLER_SETTINGS,
    )
    server = TorchServe(store).start(timeout=300)
    try:
        yield server
    finally:
        server.stop()
