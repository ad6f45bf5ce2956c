"""Fixtures that load a real (random-weight) model: a pytest plugin of the root conftest.

Torch and the model code are imported inside the fixtures, so loading this plugin costs nothing
where no model test runs (the client's tests run without torch installed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gdino_serve.paths import FULL_CONFIG, TINY_CONFIG

if TYPE_CHECKING:
    from handler.core.pipeline import DetectionPipeline


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Path:
    from gdino_serve.demo_checkpoint import cached_random_checkpoint

    return cached_random_checkpoint(TINY_CONFIG)


@pytest.fixture(scope="session")
def make_pipeline() -> Callable[..., DetectionPipeline]:
    """Build an in-process pipeline on the tiny config (on the CPU unless ``device`` says otherwise, with
    the worker's warm-up call); keyword arguments override settings."""
    from gdino_serve.demo_checkpoint import TINY_SETTINGS, random_pipeline

    def make(device: str = "cpu", **overrides: Any) -> DetectionPipeline:
        return random_pipeline(TINY_CONFIG, device, **{"warmup": True, **TINY_SETTINGS, **overrides})

    return make


@pytest.fixture(scope="session")
def pipeline(make_pipeline: Callable[..., DetectionPipeline]) -> DetectionPipeline:
    return make_pipeline()


@pytest.fixture(scope="session")
def full_pipeline() -> DetectionPipeline:
    """The full Swin-T OGC architecture with random weights (they amplify any numerical leak);
    small images keep CPU time low."""
    from gdino_serve.demo_checkpoint import random_pipeline

    return random_pipeline(FULL_CONFIG, resize_short=256, resize_max=384)


@pytest.fixture(scope="session")
def full_openvino_pipeline() -> DetectionPipeline:
    """The full Swin-T OGC random checkpoint (``full_pipeline``'s) on the openvino back end, small images."""
    from gdino_serve.demo_checkpoint import converted_pipeline, converted_random_checkpoint

    return converted_pipeline(converted_random_checkpoint(FULL_CONFIG), resize_short=256, resize_max=384)


@pytest.fixture(scope="session")
def cuda_full_pipeline() -> DetectionPipeline:
    """The full Swin-T OGC architecture with random weights on ``cuda:0``, at the service's 800/1333 px
    (for tests marked ``cuda``)."""
    from gdino_serve.demo_checkpoint import random_pipeline

    return random_pipeline(FULL_CONFIG, "cuda:0")


@pytest.fixture(scope="session")
def make_hf_pipeline() -> Callable[..., DetectionPipeline]:
    """Build an in-process pipeline on the transformers back end with a tiny random ``model_type`` folder."""
    import torch

    from gdino_serve.demo_checkpoint import TINY_SETTINGS
    from gdino_serve.demo_hf_model import cached_random_hf_model
    from handler.backends import load_pipeline
    from handler.core.settings import HandlerSettings

    def make(model_type: str, **overrides: Any) -> DetectionPipeline:
        folder = cached_random_hf_model(model_type)
        own = {"backend": "transformers", "model_config": folder.name}
        settings = HandlerSettings(**{**own, **TINY_SETTINGS, **overrides})
        return load_pipeline(folder.parent, folder / "model.safetensors", settings, torch.device("cpu"))

    return make
