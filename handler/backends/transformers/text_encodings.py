"""The text side of a transformers GroundingDINO computed once per caption (the prompt cache).

``GroundingDinoModel.forward`` (and MM-Grounding-DINO's, the same code) encodes its captions on
every call: the phrase attention masks and position ids
(``generate_masks_with_special_tokens_and_transfer_map``), the text backbone (BERT) and
``text_projection``; the encoder's first image-text fusion is the text's first meeting with the
image. :func:`encode_caption` computes those tensors for one caption, and :func:`given_text`
makes one model call use them (as ``shared_image`` hands it the image features): for the length
of the call, the mask function returns the stacked masks and position ids, ``text_backbone``
returns the projected features and ``text_projection`` passes them through (instance-level
overrides through :func:`~handler.backends.patching.patched`, each checked against the library's
code). Each call gets freshly stacked tensors. Computing one caption at a time also makes the text
of a batched call bitwise that of its solo call.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from handler.backends.patching import check_fingerprint, patched
from handler.core.prompt_cache import Encoding

# Source fingerprints (transformers 4.57.6, torch 2.9): each model family's forward whose text part
# this module reproduces, the mask function (the same code in both), BERT's forward, the projection.
FORWARDS = {"GroundingDinoModel": "9db26612c115dc4f", "MMGroundingDinoModel": "8cef38eb0788bb27"}
MASKS_FUNCTION = "9702d0671f41c9e6"
TEXT_BACKBONE_FORWARD = "de674bd4a6dbab75"
LINEAR_FORWARD = "c0ab8f42cc3bf948"
_MASKS = "generate_masks_with_special_tokens_and_transfer_map"


def _family(model: nn.Module) -> Any:
    """The modeling module of the model's family (where its forward looks up the mask function)."""
    return sys.modules[type(model.model).__module__]


def check_model(model: nn.Module) -> None:
    """Refuse a model whose ``forward`` is not the one :func:`encode_caption` reproduces."""
    name = type(model.model).__name__
    if name not in FORWARDS:
        raise ValueError(f"the transformers back end serves {', '.join(FORWARDS)}, not {name}")
    check_fingerprint(type(model.model).forward, FORWARDS[name])


def encode_caption(model: nn.Module, tokenizer: Any, caption: str, device: torch.device) -> Encoding:
    """(projected text features (1, L, d), phrase masks (1, L, L), position ids (1, L)) of one caption."""
    input_ids = tokenizer([caption], return_tensors="pt")["input_ids"].to(device)
    if input_ids.shape[1] > model.config.max_text_len:
        raise ValueError(f"caption of {input_ids.shape[1]} tokens reached the model unsplit")
    masks, position_ids = getattr(_family(model), _MASKS)(input_ids)
    text = model.model.text_backbone(input_ids, masks, torch.zeros_like(input_ids), position_ids, return_dict=True)
    return model.model.text_projection(text.last_hidden_state), masks, position_ids


@contextlib.contextmanager
def given_text(model: nn.Module, encodings: Sequence[Encoding]) -> Iterator[None]:
    """While the block runs, ``model(...)`` reads ``encodings`` (one per caption, in order) as its text."""
    features, masks, position_ids = (torch.cat(parts) for parts in zip(*encodings))

    def stored_masks(input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return masks, position_ids

    def stored_features(*_: Any, **__: Any) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=features)

    def projected(input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (nn.Linear's argument name)
        return input

    with (
        patched(_family(model), _MASKS, stored_masks, MASKS_FUNCTION),
        patched(model.model.text_backbone, "forward", stored_features, TEXT_BACKBONE_FORWARD),
        patched(model.model.text_projection, "forward", projected, LINEAR_FORWARD),
    ):
        yield
