"""Stage 4: one batched model call per group of requests that can share a batch exactly.

Captions of any lengths share a batch exactly (the upstream back end makes sure of it).
Images of different resized sizes do not: padding them to a common size changes the backbone
features near the padding. So requests are grouped by resized (H, W), and each group runs
as one model call (split at ``max_sub_batch``): the detector encodes each distinct image
once and decodes it with each of its captions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from handler.backends.base import Detector
from handler.core.packing import pack


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


def distinct_images(images: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """The distinct image objects in first-seen order, and for each input the index of its image."""
    index_of: dict[int, int] = {}
    distinct: list[torch.Tensor] = []
    owners = []
    for image in images:
        if id(image) not in index_of:
            index_of[id(image)] = len(distinct)
            distinct.append(image)
        owners.append(index_of[id(image)])
    return distinct, owners


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


def run_model(detector: Detector, inputs: Sequence[ModelInput]) -> list[RawDetections]:
    """Run ``inputs`` as one model call; they must share one image shape."""
    distinct, owners = distinct_images([item.image for item in inputs])
    scores = detector.decode(detector.encode_images(torch.stack(distinct)), owners, [item.caption for item in inputs])
    return [_select(scores.probs[i], scores.boxes[i], item.box_threshold) for i, item in enumerate(inputs)]


def predict_batch(detector: Detector, inputs: Sequence[ModelInput], max_sub_batch: int) -> list[RawDetections]:
    """Detections for every input, in input order, using as few exact model calls as possible.

    ``max_sub_batch`` counts captions; all captions of one image go into one call, so that the
    image's backbone runs once (one image with more captions than ``max_sub_batch`` is a call alone).
    """
    results: list[RawDetections | None] = [None] * len(inputs)
    distinct, owners = distinct_images([item.image for item in inputs])
    captions_per_image = [owners.count(image) for image in range(len(distinct))]
    for members in group_by_shape([image.shape for image in distinct], max_sub_batch, captions_per_image):
        group = [index for index, owner in enumerate(owners) if owner in members]
        for index, detections in zip(group, run_model(detector, [inputs[i] for i in group])):
            results[index] = detections
    return [result for result in results if result is not None]
