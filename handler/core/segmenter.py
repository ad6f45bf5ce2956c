"""The seam between the pipeline and a mask model: the :class:`Segmenter` protocol.

Beside the :class:`~handler.core.detector.Detector`: a mask back end turns one image and the
pixel boxes kept for it into one mask per box ("Grounded-SAM": the detector's boxes prompt the
mask model). Which boxes, how masks are encoded and answered, and what a failure costs are the
core's (``handler.core.masks``); the back end only runs its model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from handler.core.settings import HandlerSettings


@dataclass(frozen=True)
class BoxMask:
    """One box's mask on the CPU, at the displayed image's size."""

    mask: np.ndarray  # bool (height, width)
    score: float  # the mask model's own quality estimate (predicted IoU)


class Segmenter(Protocol):
    """A promptable mask model the pipeline can drive without knowing its internals.

    A box's mask must depend on its image and its box only (not on the other boxes or the other
    requests of a batch), so a request's masks are the same alone or batched.
    """

    device: torch.device

    @classmethod
    def load(cls, folder: Path, settings: HandlerSettings, device: torch.device) -> Segmenter:
        """Load the mask model saved in ``folder`` (offline) onto ``device``."""
        ...

    def segment(
        self, pixels: Image.Image, size: tuple[int, int], boxes: torch.Tensor, threshold: float
    ) -> Iterator[BoxMask]:
        """One mask per row of ``boxes`` (float (n, 4) x1, y1, x2, y2 in displayed pixels), in order.

        ``pixels`` is the upright RGB image, possibly decoded at reduced scale; ``size`` is the
        displayed (width, height) that boxes and masks refer to. A pixel is in a mask when the
        model's mask probability exceeds ``threshold``.
        """
        ...
