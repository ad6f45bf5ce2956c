"""Fixes to the upstream GroundingDINO code that make batched inference equal to one-by-one.

Upstream is correct for a batch of one (what ``groundingdino.util.inference.predict`` runs),
but a batch mixes its items up in two places:

1. ``TransformerEncoderLayer`` (the text enhancer) expands the per-item text attention mask to
   heads with ``repeat(nhead, 1, 1)``, giving the order ``[b0, b1, b0, b1, ...]``;
   ``nn.MultiheadAttention`` expects ``[b0 x nhead, b1 x nhead]``. Every item of a batch then
   attends with other items' masks (box shifts of up to 0.9 in normalised coordinates).
2. ``generate_masks_with_special_tokens_and_transfer_map`` treats the final ``[SEP]`` of a
   padded (shorter) caption as a phrase delimiter instead of the end of the text, so a caption
   encodes differently when a longer one shares its batch.

Both replacements are identical to upstream for a batch of one. ``apply()`` is idempotent and
refuses to patch functions other than the ones these fixes were written for (see ``patching``).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from handler.backends.upstream.patching import guarded_patch

# Source fingerprints of the rf-groundingdino 0.3.0 functions the fixes replace.
TEXT_ENCODER_LAYER_FORWARD = "a42aa225f35d071f"
GENERATE_MASKS = "fd5f9f86101586aa"


def _text_encoder_layer_forward(
    self: Any,
    src: Tensor,
    src_mask: Tensor | None = None,
    src_key_padding_mask: Tensor | None = None,
    pos: Tensor | None = None,
) -> Tensor:
    """Upstream ``TransformerEncoderLayer.forward`` with the mask expanded batch-major."""
    if src_mask is not None and src_mask.dim() == 3 and src_mask.shape[0] == src.shape[1]:
        src_mask = src_mask.repeat_interleave(self.nhead, dim=0)
    q = k = self.with_pos_embed(src, pos)
    src2 = self.self_attn(q, k, value=src, attn_mask=src_mask)[0]
    src = self.norm1(src + self.dropout1(src2))
    src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
    return self.norm2(src + self.dropout2(src2))


def generate_masks_with_special_tokens_and_transfer_map(
    tokenized: Any, special_tokens_list: list[int], tokenizer: Any
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Phrase-block attention masks and position ids, each row ending at its own last token."""
    input_ids = tokenized["input_ids"]
    bs, num_token = input_ids.shape
    device = input_ids.device
    lengths = tokenized["attention_mask"].sum(dim=1).tolist()
    special = torch.zeros((bs, num_token), device=device, dtype=torch.bool)
    for token in special_tokens_list:
        special |= input_ids == token

    attention_mask = torch.eye(num_token, device=device, dtype=torch.bool).unsqueeze(0).repeat(bs, 1, 1)
    position_ids = torch.zeros((bs, num_token), device=device, dtype=torch.long)
    cate_to_token: list[list[Tensor]] = [[] for _ in range(bs)]
    for row in range(bs):
        last = int(lengths[row]) - 1
        previous = 0
        for col in torch.nonzero(special[row]).flatten().tolist():
            if col > last:
                break
            if col not in (0, last):
                attention_mask[row, previous + 1 : col + 1, previous + 1 : col + 1] = True
                position_ids[row, previous + 1 : col + 1] = torch.arange(col - previous, device=device)
                category = torch.zeros(num_token, device=device, dtype=torch.bool)
                category[previous + 1 : col] = True
                cate_to_token[row].append(category)
            previous = col
    stacked = [
        torch.stack(masks) if masks else torch.zeros((0, num_token), device=device, dtype=torch.bool)
        for masks in cate_to_token
    ]
    return attention_mask, position_ids, stacked


# Deprecation notices the upstream code triggers on every call; they bury the worker log.
UPSTREAM_WARNINGS = (
    r"torch\.meshgrid: in an upcoming release",
    r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated",
    r"Importing from timm\.models\.layers is deprecated",
)


def apply() -> None:
    """Install the fixes into the imported upstream modules and quiet its known deprecation notices."""
    for message in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    from groundingdino.models.GroundingDINO import groundingdino, transformer_vanilla

    guarded_patch(
        transformer_vanilla.TransformerEncoderLayer, "forward", _text_encoder_layer_forward, TEXT_ENCODER_LAYER_FORWARD
    )
    guarded_patch(
        groundingdino,
        "generate_masks_with_special_tokens_and_transfer_map",
        generate_masks_with_special_tokens_and_transfer_map,
        GENERATE_MASKS,
    )
