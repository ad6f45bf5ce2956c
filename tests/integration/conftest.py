"""Fixtures of the integration tests: a real TorchServe serving a real .mar and a real Label Studio,
on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gdino_serve.tools.labelstudio_runner import LabelStudioServer
from gdino_serve.torchserve_runner import TorchServe
from tests.support import fault_injection
from tests.support.model_inputs import TEST_HANDLER_SETTINGS
from tests.support.tiny_server import FAST_SETTINGS, serve_tiny_mar


@pytest.fixture(scope="session")
def served_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """A real TorchServe with a real .mar (tiny config, batchSize 8) on free loopback ports."""
    store = tmp_path_factory.mktemp("model_store")
    with serve_tiny_mar(
        tiny_checkpoint, store, {"batchSize": 8, "maxBatchDelay": 1000}, TEST_HANDLER_SETTINGS
    ) as server:
        yield server


@pytest.fixture(scope="session")
def fast_served_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """The tiny model on 128-160 px inputs, batchSize 8, 20 ms batch delay: cheap requests in bulk."""
    store = tmp_path_factory.mktemp("fast_store")
    with serve_tiny_mar(tiny_checkpoint, store, {"batchSize": 8, "maxBatchDelay": 20}, FAST_SETTINGS) as server:
        yield server


@pytest.fixture(scope="session")
def mask_served_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """The tiny model with a tiny random SAM 2.1 mask model (fast inputs, batchSize 8, 500 ms batch
    delay), through the fault-injecting mask back end: images of its widths fail on purpose."""
    from gdino_serve.demo_sam_model import cached_random_sam_model

    store = tmp_path_factory.mktemp("mask_store")
    settings = {**FAST_SETTINGS, "mask_backend": "fault_injection:FaultInjectingSegmenter"}
    with serve_tiny_mar(
        tiny_checkpoint,
        store,
        {"batchSize": 8, "maxBatchDelay": 500},
        settings,
        extra_modules=[fault_injection.__file__],
        mask_model=cached_random_sam_model("tiny-sam2"),
    ) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """A real Label Studio (build/labelstudio-venv) on a free loopback port, once per session; its
    LOCAL_FILES_DOCUMENT_ROOT is ``document_root`` (tests put their image folders below it)."""
    root = tmp_path_factory.mktemp("labelstudio")
    server = LabelStudioServer(root / "data", root / "files").start()
    try:
        yield server
    finally:
        server.stop()
