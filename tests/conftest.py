"""Shared fixtures: real photos, a small random-weight checkpoint, an in-process pipeline and a
real TorchServe serving a real .mar on free loopback ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch

from scripts.make_random_checkpoint import cached_random_checkpoint
from handler.testing import PHOTOS, photo_bytes
from tests.support import REPO, TEST_HANDLER_SETTINGS, TINY_CONFIG
from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings
from scripts.build_mar import build_mar
from scripts.torchserve_runner import TorchServe


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    return {name: photo_bytes(name) for name in PHOTOS}


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Path:
    return cached_random_checkpoint(TINY_CONFIG)


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
