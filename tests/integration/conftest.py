"""Fixtures of the integration tests: a real TorchServe serving a real .mar and a real Label Studio,
on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handler.testing import TEST_HANDLER_SETTINGS, TINY_CONFIG
from scripts.build_mar import build_mar
from scripts.labelstudio_runner import LabelStudioServer
from scripts.torchserve_runner import TorchServe


@pytest.fixture(scope="session")
def served_model(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    """A real TorchServe with a real .mar (tiny config, batchSize 8) on free loopback ports."""
    store = tmp_path_factory.mktemp("model_store")
    build_mar(
        tiny_checkpoint,
        store,
        TINY_CONFIG,
        overrides={"batchSize": 8, "maxBatchDelay": 1000},
        handler_overrides=TEST_HANDLER_SETTINGS,
    )
    server = TorchServe(store).start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


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
