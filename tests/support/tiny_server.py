"""A real TorchServe serving a freshly built .mar of the tiny random-weight model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gdino_serve.model_archive import UpstreamModel, build_archive, with_mask_model
from gdino_serve.paths import TINY_CONFIG
from gdino_serve.torchserve_runner import TorchServe
from tests.support.model_inputs import TEST_HANDLER_SETTINGS

# Small model inputs for fault, fuzz and soak runs: thousands of requests, not accuracy checks.
FAST_SETTINGS = {**TEST_HANDLER_SETTINGS, "resize_short": 128, "resize_max": 160}


@contextmanager
def serve_tiny_mar(
    checkpoint: Path,
    store: Path,
    overrides: Mapping[str, Any],
    handler_overrides: Mapping[str, Any],
    extra_config: Mapping[str, str] | None = None,
    extra_modules: Sequence[str] = (),
    mask_model: Path | None = None,
) -> Iterator[TorchServe]:
    """Build the .mar into ``store`` (with ``extra_modules`` as top-level modules and the mask model
    folder ``mask_model``, if any), serve it on free loopback ports until the block ends."""
    modules = [Path(module) for module in extra_modules]
    model = with_mask_model(UpstreamModel(checkpoint, TINY_CONFIG), mask_model)
    build_archive(model, store, overrides=overrides, handler_overrides=handler_overrides, extra_modules=modules)
    server = TorchServe(store, extra_config=dict(extra_config or {})).start(timeout=300)
    try:
        yield server
    finally:
        server.stop()
