"""Several captions per image with one backbone pass per distinct image.

A long prompt becomes several model inputs (one per chunk) that hold the *same* image tensor.
The backbone runs once per distinct image (:func:`encode_images`); its features are then
repeated for each caption through ``GroundingDINO.set_image_features``, which ``forward`` uses
instead of running the backbone again (and clears afterwards) (:func:`decode_captions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from groundingdino.util.misc import NestedTensor
from torch import nn

from handler.backends.upstream.text_encodings import given_text
from handler.core.prompt_cache import Encoding


@dataclass(frozen=True)
class ImageFeatures:
    """The backbone's output for a same-shape batch of images."""

    images: torch.Tensor  # (b, 3, H, W)
    features: list[NestedTensor]
    positions: list[torch.Tensor]


def encode_images(model: nn.Module, images: torch.Tensor) -> ImageFeatures:
    """Run the backbone once on ``images``."""
    model.set_image_tensor(images)
    try:
        return ImageFeatures(images, list(model.features), list(model.poss))
    finally:
        model.unset_image_tensor()


def decode_captions(
    model: nn.Module, encoded: ImageFeatures, owners: Sequence[int], captions: list[str], text: Sequence[Encoding]
) -> Any:
    """``model(images[owners], captions)`` on the features of :func:`encode_images` and the captions'
    encodings ``text`` (:mod:`~handler.backends.upstream.text_encodings`)."""
    index = torch.tensor(owners, device=encoded.images.device)
    model.set_image_features(
        [NestedTensor(feature.tensors[index], feature.mask[index]) for feature in encoded.features],
        [position[index] for position in encoded.positions],
    )
    try:
        with given_text(model, text):
            return model(encoded.images[index], captions=captions)
    finally:
        model.unset_image_tensor()
