"""The text side of GroundingDINO computed once per caption (the prompt cache), then handed to ``forward``.

``GroundingDINO.forward`` encodes its captions on every call: tokens, the phrase attention masks
and position ids (``generate_masks_with_special_tokens_and_transfer_map``), BERT, and the text
projection ``feat_map``. Everything after that reads only the resulting ``text_dict``, and its
first use of the image is the encoder's first image-text fusion. :func:`encode_caption` computes
the same tensors for one caption, as ``forward`` does per batch item (``batch_invariance`` runs
BERT and ``feat_map`` per item, and the batching planner never pads a caption), so a cached
answer is bitwise the uncached one. :func:`given_text` makes one ``forward`` call use them:
for the length of the call, the mask function returns the stacked masks and position ids,
``model.bert`` returns the projected features, and ``feat_map`` passes them through. Each call
gets freshly stacked tensors (``forward`` rebinds ``text_dict["encoded_text"]`` to the fused text).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from groundingdino.models.GroundingDINO import groundingdino
from torch import nn

from handler.backends.patching import check_fingerprint, fingerprint, patched
from handler.backends.upstream import batch_invariance
from handler.core.prompt_cache import Encoding

# Source fingerprints (rf-groundingdino 0.3.0, torch 2.9): the forward whose text part this module
# reproduces, and the projection it bypasses.
FORWARD = "cf97a7724b564601"
LINEAR_FORWARD = "c0ab8f42cc3bf948"
_MASKS = "generate_masks_with_special_tokens_and_transfer_map"


def check_model(model: nn.Module) -> None:
    """Refuse a ``forward`` other than the one :func:`encode_caption` reproduces."""
    check_fingerprint(type(model).forward, FORWARD)


def encode_caption(model: nn.Module, caption: str, device: torch.device) -> Encoding:
    """(projected BERT features (1, L, d), phrase masks (1, L, L), position ids (1, L)) of one caption."""
    tokenized = model.tokenizer([caption], return_tensors="pt").to(device)
    masks, position_ids, _ = getattr(groundingdino, _MASKS)(tokenized, model.specical_tokens, model.tokenizer)
    if tokenized["input_ids"].shape[1] > model.max_text_len:
        raise ValueError(f"caption of {tokenized['input_ids'].shape[1]} tokens reached the model unsplit")
    encoder_input = dict(tokenized)
    if model.sub_sentence_present:
        encoder_input = {**encoder_input, "attention_mask": masks, "position_ids": position_ids}
    features = model.feat_map(model.bert(**encoder_input)["last_hidden_state"])
    return features, masks, position_ids


@contextlib.contextmanager
def given_text(model: nn.Module, encodings: Sequence[Encoding]) -> Iterator[None]:
    """While the block runs, ``model(...)`` reads ``encodings`` (one per caption, in order) as its text."""
    features, masks, position_ids = (torch.cat(parts) for parts in zip(*encodings))

    def stored_masks(tokenized: Any, special_tokens: Any, tokenizer: Any) -> tuple[torch.Tensor, torch.Tensor, list]:
        return masks, position_ids, []

    def stored_features(**_: Any) -> dict[str, torch.Tensor]:
        return {"last_hidden_state": features}

    def projected(input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (nn.Linear's argument name)
        return input

    ours = fingerprint(getattr(batch_invariance, _MASKS))
    with (
        patched(groundingdino, _MASKS, stored_masks, ours),
        patched(model.bert, "forward", stored_features, batch_invariance.BERT_WARPER_FORWARD),
        patched(model.feat_map, "forward", projected, LINEAR_FORWARD),
    ):
        yield
