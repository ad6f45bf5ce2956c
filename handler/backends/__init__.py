"""Model back ends: each implements :class:`handler.backends.base.Detector` for one model family.

A back end is chosen by the ``backend`` handler setting and imported only when chosen, so the
core never imports a model library.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from handler.backends.base import Detector
from handler.core.settings import HandlerSettings

# setting value -> "module:class"
BACKENDS = {
    "upstream": "handler.backends.upstream.detector:UpstreamDetector",
    "transformers": "handler.backends.transformers.detector:TransformersDetector",
    # Tests only: upstream with failures on request (see the module); never selected by default.
    "fault-injection": "handler.backends.fault_injection:FaultInjectingDetector",
}


def load_detector(model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device) -> Detector:
    """The back end named by ``settings.backend``, loaded with its model."""
    if settings.backend not in BACKENDS:
        raise ValueError(f"handler setting backend={settings.backend!r} is not one of {', '.join(BACKENDS)}")
    module, name = BACKENDS[settings.backend].split(":")
    detector: type[Detector] = getattr(importlib.import_module(module), name)
    return detector.load(model_dir, checkpoint, settings, device)
