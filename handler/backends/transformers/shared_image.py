"""Several captions per image with one backbone pass per distinct image (transformers models).

The transformers ``forward`` always runs the vision backbone (``model.model.backbone``, which
returns the multi-scale feature maps with their masks and position embeddings). It has no
argument for features computed earlier, so :func:`decode_captions` makes that backbone return
the rows of :func:`encode_images`' features for the call's images (an instance-level ``forward``
override through :func:`~handler.backends.patching.patched`, checked against the library's
``forward`` and removed afterwards; no library code changes). The text side, encoder and decoder
then run as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from handler.backends.patching import patched
from handler.backends.transformers.text_encodings import given_text
from handler.core.prompt_cache import Encoding

# Source fingerprint of transformers 4.57.6's GroundingDinoConvModel.forward (the same in MM-Grounding-DINO).
BACKBONE_FORWARD = "75cf783ea18bab66"


@dataclass(frozen=True)
class ImageFeatures:
    """The backbone's output for a same-shape batch of images."""

    images: torch.Tensor  # (b, 3, H, W)
    features: list[tuple[torch.Tensor, torch.Tensor]]  # per level: feature map, mask
    positions: list[torch.Tensor]


def encode_images(model: nn.Module, images: torch.Tensor) -> ImageFeatures:
    """Run the vision backbone once on ``images`` (no padding: every pixel is valid)."""
    mask = torch.ones((images.shape[0], *images.shape[2:]), dtype=torch.long, device=images.device)
    features, positions = model.model.backbone(images, mask)
    return ImageFeatures(images, list(features), list(positions))


def _reused_backbone(backbone: nn.Module, encoded: ImageFeatures, index: torch.Tensor) -> AbstractContextManager[None]:
    """While the block runs, ``backbone(...)`` answers with ``encoded``'s rows ``index`` instead of computing them."""

    def cached(pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> Any:
        # Fresh lists: the model appends its extra levels' position embeddings to them.
        return [(feature[index], mask[index]) for feature, mask in encoded.features], [
            position[index] for position in encoded.positions
        ]

    return patched(backbone, "forward", cached, BACKBONE_FORWARD)


def decode_captions(
    model: nn.Module,
    encoded: ImageFeatures,
    owners: Sequence[int],
    text: dict[str, torch.Tensor],
    encodings: Sequence[Encoding],
) -> Any:
    """``model(images[owners], text)`` on the features of :func:`encode_images` and the captions'
    ``encodings`` (:mod:`~handler.backends.transformers.text_encodings`)."""
    index = torch.tensor(owners, device=encoded.images.device)
    with _reused_backbone(model.model.backbone, encoded, index), given_text(model, encodings):
        return model(pixel_values=encoded.images[index], **text)
