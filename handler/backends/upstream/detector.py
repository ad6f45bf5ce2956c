"""The ``upstream`` back end: today's ``rf-groundingdino`` model behind the Detector protocol.

Loading applies the exact-batching fixes (``batch_invariance``) and the float32 islands (mixed precision),
builds the model from its Python config and checkpoint, applies the GPU speed-ups its settings ask
for (``sync_free_decoder``, ``float16_islands``, ``compile_mode``), and runs every call under the
configured ``dtype``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handler.backends import dtypes
from handler.backends.bert_tokens import BertTokens
from handler.backends.torch_detector import TorchDetector
from handler.backends.upstream import batch_invariance, decoder_sync, float32_islands, text_encodings
from handler.backends.upstream.compiled import check_compile_mode, compile_model
from handler.backends.upstream.model_loader import load_model
from handler.backends.upstream.shared_image import ImageFeatures, decode_captions, encode_images
from handler.core.image_positions import level_strides
from handler.core.prompt_cache import Encoding
from handler.core.settings import HandlerSettings


def feature_strides(model: nn.Module) -> tuple[int, ...]:
    """The encoder's feature-level strides: the Swin stages it returns, then one more level per
    extra stride-2 convolution; () for a model that does not pick queries among positions."""
    swin = model.backbone[0]
    if model.transformer.two_stage_type == "no" or not hasattr(swin, "patch_embed"):
        return ()
    patch = swin.patch_embed.patch_size[0]
    return level_strides([patch * 2**stage for stage in swin.out_indices], model.num_feature_levels)


class UpstreamDetector(TorchDetector):
    """GroundingDINO (Swin + BERT) as published in ``rf-groundingdino``."""

    def __init__(self, model: nn.Module, device: torch.device, *options: Any) -> None:
        """``options``: :class:`TorchDetector`'s ``dtype`` and ``prompt_cache_mb``."""
        super().__init__(model, device, *options)
        self.tokenizer = BertTokens(model.tokenizer)
        self.max_text_len: int = model.max_text_len
        self.num_queries: int = model.num_queries
        self.feature_strides = feature_strides(model)

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> UpstreamDetector:
        dtypes.resolve_dtype(settings.dtype, device)  # a bad dtype or compile mode fails before the model loads
        check_compile_mode(settings.compile_mode)
        batch_invariance.apply()
        float32_islands.apply()
        model = load_model(model_dir / settings.model_config, checkpoint, model_dir / settings.bert_dir, device)
        batch_invariance.apply_to_model(model)
        text_encodings.check_model(model)
        if settings.sync_free_decoder:
            decoder_sync.apply_to_model(model)
        if settings.float16_islands:
            float32_islands.apply_float16_islands(model)
        if settings.compile_mode:
            compile_model(model, settings.compile_mode)
        return cls(model, device, settings.dtype, settings.prompt_cache_mb)

    def _encode(self, images: torch.Tensor) -> ImageFeatures:
        return encode_images(self.model, images)

    def _encode_caption(self, caption: str) -> Encoding:
        return text_encodings.encode_caption(self.model, caption, self.device)

    def _decode(
        self, encoded: ImageFeatures, owners: Sequence[int], captions: list[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = decode_captions(self.model, encoded, owners, captions, self._text(captions))
        return outputs["pred_logits"], outputs["pred_boxes"]
