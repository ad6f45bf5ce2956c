"""Shared fixtures: real photos, a small random-weight checkpoint and an in-process pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings
from handler.testing import (
    FULL_CONFIG,
    PHOTOS,
    REPO,
    TEST_HANDLER_SETTINGS,
    TINY_CONFIG,
    cached_random_checkpoint,
    photo_bytes,
)

# Tests that run a real model (random weights) are slow on CPU: they belong to the integration set.
MODEL_FIXTURES = frozenset(
    {"tiny_checkpoint", "make_pipeline", "pipeline", "full_pipeline", "make_hf_pipeline", "any_pipeline"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs a real model ``integration``, so ``-m "not integration"`` stays fast."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the figures tests recorded with ``record_property`` (e.g. batched-vs-solo differences),
    so every run's output carries them, also with ``-q``."""
    rows = [
        (name, value, report.nodeid)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
    ]
    if rows:
        terminalreporter.section("measured in this run")
        for name, value, nodeid in rows:
            terminalreporter.write_line(f"{value:.3g}  {name}  [{nodeid.split('::')[-1]}]")


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
        settings = HandlerSettings(
            model_config=f"model_config/{TINY_CONFIG.name}", **{**TEST_HANDLER_SETTINGS, **overrides}
        )
        return DetectionPipeline.load(REPO, tiny_checkpoint, settings, torch.device("cpu"))

    return make


@pytest.fixture(scope="session")
def pipeline(make_pipeline: Callable[..., DetectionPipeline]) -> DetectionPipeline:
    return make_pipeline()


@pytest.fixture(scope="session")
def full_pipeline() -> DetectionPipeline:
    """The full Swin-T OGC architecture with random weights (they amplify any numerical leak);
    small images keep CPU time low."""
    settings = HandlerSettings(
        model_config=f"model_config/{FULL_CONFIG.name}", resize_short=256, resize_max=384, warmup=False
    )
    return DetectionPipeline.load(REPO, cached_random_checkpoint(FULL_CONFIG), settings, torch.device("cpu"))


@pytest.fixture(scope="session")
def make_hf_pipeline() -> Callable[..., DetectionPipeline]:
    """Build an in-process pipeline on the transformers back end with a tiny random ``model_type`` folder."""
    from handler.hf_testing import cached_random_hf_model

    def make(model_type: str, **overrides: Any) -> DetectionPipeline:
        folder = cached_random_hf_model(model_type)
        settings = HandlerSettings(
            backend="transformers", model_config=folder.name, **{**TEST_HANDLER_SETTINGS, **overrides}
        )
        return DetectionPipeline.load(folder.parent, folder / "model.safetensors", settings, torch.device("cpu"))

    return make
