"""A real TorchServe serving a freshly built .mar of the tiny random-weight model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from handler.testing import TEST_HANDLER_SETTINGS, TINY_CONFIG
from scripts.build_mar import build_mar
from scripts.torchserve_runner import TorchServe

# Small model inputs for fault, fuzz and soak runs: thousands of requests, not accuracy checks.
FAST_SETTINGS = {**TEST_HANDLER_SETTINGS, "resize_short": 128, "resize_max": 160}


@contextmanager
def serve_tiny_mar(
    checkpoint: Path,
    store: Path,
    overrides: Mapping[str, Any],
    handler_overrides: Mapping[str, Any],
    extra_config: Mapping[str, str] | None = None,
) -> Iterator[TorchServe]:
    """Build the .mar into ``store``, serve it on free loopback ports until the block ends."""
    build_mar(checkpoint, store, TINY_CONFIG, overrides=overrides, handler_overrides=handler_overrides)
    server = TorchServe(store, extra_config=dict(extra_config or {})).start(timeout=300)
    try:
        yield server
    finally:
        server.stop()
