"""Several captions per image with one backbone pass per distinct image.

A long prompt becomes several model inputs (one per chunk) that hold the *same* image tensor.
The backbone runs once per distinct image; its features are then repeated for each caption
through ``GroundingDINO.set_image_features``, which ``forward`` uses instead of running the
backbone again (and clears afterwards).
"""

from __future__ import annotations

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


def forward_shared(model: nn.Module, images: torch.Tensor, owners: Sequence[int], captions: list[str]) -> Any:
    """``model(images[owners], captions)`` with the backbone run once on ``images`` (same-shape batch)."""
    index = torch.tensor(owners, device=images.device)
    model.set_image_tensor(images)
    try:
        model.set_image_features(
            [NestedTensor(feature.tensors[index], feature.mask[index]) for feature in model.features],
            [position[index] for position in model.poss],
        )
        return model(images[index], captions=captions)
    finally:
        model.unset_image_tensor()
