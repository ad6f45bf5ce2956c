"""Model back ends: each implements :class:`handler.core.detector.Detector` for one model family.

A back end is chosen by the ``backend`` handler setting: a registered name, or ``module:Class``
for one the registry does not list (a test archive's fault-injecting back end, say). It is
imported only when chosen, so nothing loads a model library it does not use. Front ends build
their pipeline here (:func:`load_pipeline`): the core itself imports no back end.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from handler.core.detector import Detector
from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings

# setting value -> "module:Class"
BACKENDS = {
    "upstream": "handler.backends.upstream.detector:UpstreamDetector",
    "transformers": "handler.backends.transformers.detector:TransformersDetector",
}


def detector_class(backend: str) -> type[Detector]:
    """The class a ``backend`` setting names: a registered name or ``module:Class``."""
    spec = BACKENDS.get(backend, backend)
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(
            f"handler setting backend={backend!r} is not one of {', '.join(BACKENDS)} (or a 'module:Class')"
        )
    return getattr(importlib.import_module(module), name)


def load_detector(model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device) -> Detector:
    """The back end named by ``settings.backend``, loaded with its model."""
    return detector_class(settings.backend).load(model_dir, checkpoint, settings, device)


def load_pipeline(
    model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
) -> DetectionPipeline:
    """A :class:`DetectionPipeline` on the configured back end, its model loaded from ``model_dir``."""
    return DetectionPipeline(load_detector(model_dir, checkpoint, settings, device), settings)
