"""Model back ends: each implements :class:`handler.core.detector.Detector` for one model family,
or :class:`handler.core.segmenter.Segmenter` for one family of mask models.

A back end is chosen by the ``backend`` handler setting (``mask_backend`` for masks): a registered
name, or ``module:Class`` for one the registry does not list (a test archive's fault-injecting
back end, say). It is imported only when chosen, so nothing loads a model library it does not
use. Front ends build their pipeline here (:func:`load_pipeline`): the core itself imports no back end.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from handler.core.detector import Detector
from handler.core.pipeline import DetectionPipeline
from handler.core.segmenter import Segmenter
from handler.core.settings import HandlerSettings

# setting value -> "module:Class"
BACKENDS = {
    "upstream": "handler.backends.upstream.detector:UpstreamDetector",
    "transformers": "handler.backends.transformers.detector:TransformersDetector",
    "openvino": "handler.backends.openvino.detector:OpenVinoDetector",
}
# mask_backend setting value -> "module:Class"
SEGMENTERS = {"sam": "handler.backends.sam.segmenter:SamSegmenter"}


def _named_class(setting: str, value: str, registry: dict[str, str]) -> Any:
    spec = registry.get(value, value)
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(
            f"handler setting {setting}={value!r} is not one of {', '.join(registry)} (or a 'module:Class')"
        )
    return getattr(importlib.import_module(module), name)


def detector_class(backend: str) -> type[Detector]:
    """The class a ``backend`` setting names: a registered name or ``module:Class``."""
    return _named_class("backend", backend, BACKENDS)


def segmenter_class(mask_backend: str) -> type[Segmenter]:
    """The class a ``mask_backend`` setting names: a registered name or ``module:Class``."""
    return _named_class("mask_backend", mask_backend, SEGMENTERS)


def load_detector(model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device) -> Detector:
    """The back end named by ``settings.backend``, loaded with its model."""
    return detector_class(settings.backend).load(model_dir, checkpoint, settings, device)


def load_segmenter(model_dir: Path, settings: HandlerSettings, device: torch.device) -> Segmenter | None:
    """The mask model of the ``mask_model`` folder (relative to ``model_dir``), or None without one."""
    if not settings.mask_model:
        return None
    return segmenter_class(settings.mask_backend).load(model_dir / settings.mask_model, settings, device)


def load_pipeline(
    model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
) -> DetectionPipeline:
    """A :class:`DetectionPipeline` on the configured back ends, the models loaded from ``model_dir``."""
    detector = load_detector(model_dir, checkpoint, settings, device)
    return DetectionPipeline(detector, settings, load_segmenter(model_dir, settings, device))
