"""The ``upstream`` back end: today's ``rf-groundingdino`` model behind the Detector protocol.

Loading applies the upstream fixes (exact batching) and the float32 islands (mixed precision),
builds the model from its Python config and checkpoint, and runs every call under the
configured ``dtype``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from handler.backends import dtypes
from handler.backends.base import QueryScores
from handler.backends.bert_tokens import BertTokens
from handler.backends.upstream import precision, upstream_fixes
from handler.backends.upstream.model_loader import load_model
from handler.backends.upstream.shared_image import ImageFeatures, decode_captions, encode_images
from handler.core.settings import HandlerSettings


class UpstreamDetector:
    """GroundingDINO (Swin + BERT) as published in ``rf-groundingdino``."""

    def __init__(self, model: nn.Module, device: torch.device, dtype: str = "float32") -> None:
        self.model = model
        self.device = device
        self.dtype = dtypes.resolve_dtype(dtype, device)
        self.tokenizer = BertTokens(model.tokenizer)
        self.max_text_len: int = model.max_text_len

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> UpstreamDetector:
        dtypes.resolve_dtype(settings.dtype, device)  # a bad dtype fails before the model loads
        upstream_fixes.apply()
        precision.apply()
        model = load_model(model_dir / settings.model_config, checkpoint, model_dir / settings.bert_dir, device)
        upstream_fixes.apply_to_model(model)
        return cls(model, device, settings.dtype)

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor) -> ImageFeatures:
        with dtypes.autocast(self.dtype, self.device):
            return encode_images(self.model, images.to(self.device, non_blocking=True))

    @torch.inference_mode()
    def decode(self, encoded: ImageFeatures, owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        with dtypes.autocast(self.dtype, self.device):
            outputs = decode_captions(self.model, encoded, owners, list(captions))
            # One device-to-host copy for the whole call (a few MB), not one synchronising copy per image.
            return QueryScores(
                probs=outputs["pred_logits"].sigmoid().float().cpu(), boxes=outputs["pred_boxes"].float().cpu()
            )
