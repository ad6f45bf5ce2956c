"""Which detections a response keeps: optional non-maximum suppression, then the best ``max_detections``.

Suppression is per class by default (a "person" box never hides a "helmet" box); class-agnostic
suppression lets any higher-scoring box hide an overlapping one.
"""

from __future__ import annotations

import torch
from torchvision.ops import batched_nms


def keep_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    class_ids: torch.Tensor,
    nms_threshold: float | None,
    class_agnostic: bool,
    max_detections: int,
) -> torch.Tensor:
    """Indices of the kept detections, highest score first.

    ``boxes`` are (n, 4) x1, y1, x2, y2; a box is suppressed when its IoU with a higher-scoring
    kept box (of the same class unless ``class_agnostic``) exceeds ``nms_threshold``.
    """
    if nms_threshold is None:
        order = torch.argsort(scores, descending=True, stable=True)
    else:
        groups = torch.zeros_like(class_ids) if class_agnostic else class_ids
        order = batched_nms(boxes.float(), scores.float(), groups, nms_threshold)
    return order[:max_detections]
