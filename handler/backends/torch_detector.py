"""What every PyTorch back end shares: the ``dtype`` autocast around calls, one copy to the host,
and the prompt cache.

A subclass implements ``_encode`` (the image encoder on a same-shape batch on the device),
``_encode_caption`` (the text side of one caption, up to the encoder's first image-text fusion)
and ``_decode`` (token logits and normalised boxes for the captions, reading their encodings
from :meth:`_text`); this class runs them under inference mode and the configured autocast, and
returns the scores on the CPU in one copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from handler.backends import dtypes
from handler.contract import defaults
from handler.core.detector import QueryScores
from handler.core.prompt_cache import Encoding, PromptCache


class TorchDetector:
    """The Detector calls of a PyTorch model; subclasses set ``tokenizer`` and ``max_text_len``."""

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        dtype: str = "float32",
        prompt_cache_mb: float = defaults.PROMPT_CACHE_MB,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtypes.resolve_dtype(dtype, device)
        self.prompt_cache = PromptCache(prompt_cache_mb)

    def _encode(self, images: torch.Tensor) -> Any:
        raise NotImplementedError

    def _encode_caption(self, caption: str) -> Encoding:
        """The tensors the model computes from one caption alone (batch of one)."""
        raise NotImplementedError

    def _text(self, captions: Sequence[str]) -> list[Encoding]:
        """Each caption's encoding, from the prompt cache or computed now (under the call's autocast)."""
        return [self.prompt_cache.get(caption, lambda text=caption: self._encode_caption(text)) for caption in captions]

    def _decode(self, encoded: Any, owners: Sequence[int], captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token logits (n, queries, max_text_len) and normalised cx, cy, w, h boxes (n, queries, 4)."""
        raise NotImplementedError

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor) -> Any:
        with dtypes.autocast(self.dtype, self.device):
            return self._encode(images.to(self.device, non_blocking=True))

    @torch.inference_mode()
    def decode(self, encoded: Any, owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        with dtypes.autocast(self.dtype, self.device):
            logits, boxes = self._decode(encoded, owners, list(captions))
            # One device-to-host copy for the whole call (a few MB), not one synchronising copy per image.
            return QueryScores(probs=logits.sigmoid().float().cpu(), boxes=boxes.float().cpu())
