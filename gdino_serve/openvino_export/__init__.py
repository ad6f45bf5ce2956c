"""GroundingDINO to OpenVINO IR for the ``openvino`` back end: the re-stated graphs (``graph``,
``swin_dynamic``) and their conversion (``convert``), run once per checkpoint when the model store
is built (``gdino_serve/model_store_cache.py``). Never part of a ``.mar``.

Importing this package needs neither torch nor OpenVINO: the cache key reads only what is here.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import handler

EXPORT_PACKAGE = Path(__file__).resolve().parent
BACKEND_PACKAGE = Path(handler.__file__).resolve().parent / "backends" / "openvino"  # not imported: it imports torch
CONVERTING_STACK = ("openvino", "nncf", "torch", "rf-groundingdino", "transformers")


def export_code_files() -> list[Path]:
    """The code that decides what a conversion writes: this package and the back end's shared
    definitions (file names, model facts, caption inputs)."""
    return sorted(EXPORT_PACKAGE.glob("*.py")) + [
        BACKEND_PACKAGE / "model_files.py",
        BACKEND_PACKAGE / "caption_inputs.py",
    ]


def stack_versions() -> dict[str, str]:
    """The versions of what converts: another one may export another graph."""
    return {name: version(name) for name in CONVERTING_STACK}
