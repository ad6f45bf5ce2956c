"""The seam between the pipeline and a model family: the :class:`Detector` protocol.

A back end turns images and captions into, per (image, caption) pair, every query's token
probabilities and normalised box. Everything else (requests, images, prompts, classes, NMS,
response shape) is the core's and is shared by every back end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from handler.core.prompt_cache import PromptCache
from handler.core.settings import HandlerSettings
from handler.core.tokens import TextTokenizer


@dataclass(frozen=True)
class QueryScores:
    """A model call's raw answer, on the CPU in float32: one row per (image, caption) input."""

    probs: torch.Tensor  # (n, queries, max_text_len) sigmoid probability of each query and token
    boxes: torch.Tensor  # (n, queries, 4) normalised cx, cy, w, h


class Detector(Protocol):
    """An open-set detector the pipeline can drive without knowing its internals."""

    tokenizer: TextTokenizer  # how the model cuts captions into tokens
    max_text_len: int  # tokens per caption, special tokens included
    device: torch.device
    num_queries: int  # decoder queries; a two-stage model picks them among the image positions
    feature_strides: tuple[int, ...]  # stride of each encoder feature level; () when it picks no positions
    prompt_cache: PromptCache  # the caption encodings it reuses (its counts feed the batch stats)

    @classmethod
    def load(cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device) -> Detector:
        """Build the model from ``settings`` (paths relative to ``model_dir``) and ``checkpoint``."""
        ...

    def encode_images(self, images: torch.Tensor) -> Any:
        """Run the image encoder once on a same-shape batch (b, 3, H, W) of normalised images."""
        ...

    def decode(self, encoded: Any, owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        """Token probabilities and boxes for each caption with image ``owners[i]`` of ``encoded``."""
        ...
