"""One backbone pass per distinct image, shared by every caption (and model call) that reads it.

A long prompt becomes several model inputs (one per chunk) that hold the *same* image tensor,
and captions of different token lengths go into different model calls (see
:mod:`handler.inference`). The backbone runs once per distinct image; its features are then
indexed for each call and handed to ``GroundingDINO.forward`` through ``set_image_features``,
which ``forward`` uses instead of running the backbone again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from groundingdino.util.misc import NestedTensor
from torch import nn


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


@dataclass(frozen=True)
class ImageFeatures:
    """The backbone's multi-scale features and position encodings of a same-shape image batch."""

    images: torch.Tensor  # (n, 3, H, W)
    features: list[NestedTensor]
    positions: list[torch.Tensor]


def encode_images(model: nn.Module, images: torch.Tensor) -> ImageFeatures:
    """Run the backbone once on ``images`` (one shape)."""
    model.set_image_tensor(images)
    try:
        return ImageFeatures(images, list(model.features), list(model.poss))
    finally:
        model.unset_image_tensor()


def forward_captions(model: nn.Module, encoded: ImageFeatures, owners: Sequence[int], captions: list[str]) -> Any:
    """``model(images[owners], captions)`` reusing the backbone features in ``encoded``."""
    index = torch.tensor(owners, device=encoded.images.device)
    model.set_image_features(
        [NestedTensor(feature.tensors[index], feature.mask[index]) for feature in encoded.features],
        [position[index] for position in encoded.positions],
    )
    try:
        return model(encoded.images[index], captions=captions)
    finally:
        model.unset_image_tensor()
