"""Stage 4: one batched model call per group of requests that can share a batch exactly.

Captions of any lengths share a batch exactly once :mod:`handler.backends.upstream.upstream_fixes` is applied.
Images of different resized sizes do not: padding them to a common size changes the Swin
features near the padding. So requests are grouped by resized (H, W), and each group runs
as one model call (split at ``max_sub_batch``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from handler.core.packing import pack
from handler.backends.upstream.shared_image import distinct_images, forward_shared


@dataclass(frozen=True)
class RawDetections:
    """Queries of one image whose best token probability exceeds the box threshold (on CPU)."""

    probs: torch.Tensor  # (n, max_text_len) sigmoid token probabilities
    boxes: torch.Tensor  # (n, 4) normalised cx, cy, w, h


@dataclass(frozen=True)
class ModelInput:
    """What the model needs for one caption; inputs holding the same image tensor share its backbone pass."""

    image: torch.Tensor  # (3, H, W), normalised
    caption: str  # already normalised (lower case, ends with '.')
    box_threshold: float


def group_by_shape(
    shapes: Sequence[tuple[int, ...]], max_size: int, sizes: Sequence[int] | None = None
) -> list[list[int]]:
    """Indices of equal shapes together, in first-seen order, each group at most ``max_size`` long.

    With ``sizes``, item i counts as ``sizes[i]`` (an item larger than ``max_size`` is a group alone).
    """
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, shape in enumerate(shapes):
        groups[tuple(shape)].append(index)
    weights = sizes if sizes is not None else [1] * len(shapes)
    return [run for members in groups.values() for run in pack(members, [weights[i] for i in members], max_size)]


def _select(probs: torch.Tensor, boxes: torch.Tensor, threshold: float) -> RawDetections:
    keep = probs.max(dim=-1).values > threshold
    return RawDetections(probs=probs[keep], boxes=boxes[keep])


@torch.inference_mode()
def run_model(model: nn.Module, inputs: Sequence[ModelInput], device: torch.device) -> list[RawDetections]:
    """Run ``inputs`` as one model call; they must share one image shape."""
    distinct, owners = distinct_images([item.image for item in inputs])
    images = torch.stack(distinct).to(device, non_blocking=True)
    outputs = forward_shared(model, images, owners, [item.caption for item in inputs])
    # One device-to-host copy for the whole call (a few MB), not one synchronising copy per image.
    probs = outputs["pred_logits"].sigmoid().float().cpu()
    boxes = outputs["pred_boxes"].float().cpu()
    return [_select(probs[i], boxes[i], item.box_threshold) for i, item in enumerate(inputs)]


def predict_batch(
    model: nn.Module, inputs: Sequence[ModelInput], device: torch.device, max_sub_batch: int
) -> list[RawDetections]:
    """Detections for every input, in input order, using as few exact model calls as possible.

    ``max_sub_batch`` counts captions; all captions of one image go into one call, so that the
    image's backbone runs once (one image with more captions than ``max_sub_batch`` is a call alone).
    """
    results: list[RawDetections | None] = [None] * len(inputs)
    distinct, owners = distinct_images([item.image for item in inputs])
    captions_per_image = [owners.count(image) for image in range(len(distinct))]
    for members in group_by_shape([image.shape for image in distinct], max_sub_batch, captions_per_image):
        group = [index for index, owner in enumerate(owners) if owner in members]
        for index, detections in zip(group, run_model(model, [inputs[i] for i in group], device)):
            results[index] = detections
    return [result for result in results if result is not None]
