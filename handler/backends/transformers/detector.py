"""The ``transformers`` back end: Hugging Face GroundingDINO, MM-Grounding-DINO and LLMDet.

The model is a local ``save_pretrained`` folder (``model_config`` setting, relative to the
model dir) and a weights file (the ``.mar``'s serialized file). Images are preprocessed by the
core exactly as for the upstream back end (the processor's defaults: short side 800, long side
at most 1333, ImageNet mean and std), captions are tokenized by the folder's tokenizer, and the
fusion attention runs per batch item (``batch_invariance``), so batched answers equal solo answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handler.backends import dtypes
from handler.backends.bert_tokens import BertTokens
from handler.backends.torch_detector import TorchDetector
from handler.backends.transformers import batch_invariance, text_encodings
from handler.backends.transformers.model_loader import load_model, load_tokenizer
from handler.backends.transformers.shared_image import ImageFeatures, decode_captions, encode_images
from handler.contract import defaults
from handler.core.image_positions import level_strides
from handler.core.preprocess import IMAGENET_MEAN, IMAGENET_STD
from handler.core.prompt_cache import Encoding
from handler.core.settings import HandlerSettings

logger = logging.getLogger(__name__)


def check_preprocessing(folder: Path) -> None:
    """Warn when the folder's image processor normalises otherwise than the core's preprocessing."""
    config_file = folder / "preprocessor_config.json"
    if not config_file.exists():
        return
    config = json.loads(config_file.read_text())
    for key, expected in (("image_mean", IMAGENET_MEAN), ("image_std", IMAGENET_STD)):
        found = config.get(key)
        if found is not None and any(abs(a - b) > 1e-6 for a, b in zip(found, expected)):
            logger.warning(
                "%s: %s=%s differs from the service's %s; answers will differ", config_file, key, found, expected
            )


def feature_strides(config: Any) -> tuple[int, ...]:
    """The encoder's feature-level strides: the Swin stages it returns (stage ``i`` at ``patch * 2**(i-1)``),
    then one more level per extra stride-2 convolution; () for another backbone or a one-stage model."""
    backbone = config.backbone_config
    if not config.two_stage or getattr(backbone, "model_type", None) != "swin":
        return ()
    return level_strides(
        [backbone.patch_size * 2 ** (stage - 1) for stage in backbone.out_indices], config.num_feature_levels
    )


class TransformersDetector(TorchDetector):
    """A transformers ``GroundingDinoForObjectDetection`` or ``MMGroundingDinoForObjectDetection``."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        device: torch.device,
        dtype: str = "float32",
        prompt_cache_mb: float = defaults.PROMPT_CACHE_MB,
    ) -> None:
        super().__init__(model, device, dtype, prompt_cache_mb)
        self.hf_tokenizer = tokenizer
        self.tokenizer = BertTokens(tokenizer)
        self.max_text_len: int = model.config.max_text_len
        self.num_queries: int = model.config.num_queries
        self.feature_strides = feature_strides(model.config)

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> TransformersDetector:
        dtypes.resolve_dtype(settings.dtype, device)  # a bad dtype fails before the model loads
        if settings.compile_mode:
            raise ValueError("handler setting compile_mode is supported by the upstream back end only")
        folder = model_dir / settings.model_config
        batch_invariance.apply()
        check_preprocessing(folder)
        model = load_model(folder, checkpoint, device)
        text_encodings.check_model(model)
        return cls(model, load_tokenizer(folder), device, settings.dtype, settings.prompt_cache_mb)

    def _encode(self, images: torch.Tensor) -> ImageFeatures:
        return encode_images(self.model, images)

    def _encode_caption(self, caption: str) -> Encoding:
        return text_encodings.encode_caption(self.model, self.hf_tokenizer, caption, self.device)

    def _decode(
        self, encoded: ImageFeatures, owners: Sequence[int], captions: list[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        text = self.hf_tokenizer(captions, padding="longest", return_tensors="pt").to(self.device)
        outputs = decode_captions(self.model, encoded, owners, dict(text), self._text(captions))
        return outputs.logits, outputs.pred_boxes
