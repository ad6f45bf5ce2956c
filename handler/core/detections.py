"""The core's answer for one image, before any protocol shapes it into JSON."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Detections:
    """Kept detections of one image, highest score first (n rows everywhere).

    ``boxes`` are in the request's box format, in pixels of the displayed image or divided by
    its size when ``normalized``; front ends round them for transport.
    """

    boxes: torch.Tensor  # float (n, 4)
    scores: torch.Tensor  # float (n,)
    class_ids: torch.Tensor  # long (n,): index into the request's classes
    labels: tuple[str, ...]  # class name of each detection
    phrases: tuple[str, ...]  # matched caption text of each detection
    image_size: tuple[int, int]  # (width, height) of the image as displayed
    normalized: bool = False
