"""Fixes to the upstream GroundingDINO code that make batched inference equal to one-by-one.

Upstream is correct for a batch of one (what ``groundingdino.util.inference.predict`` runs),
but a batch mixes its items up in three places:

1. ``TransformerEncoderLayer`` (the text enhancer) expands the per-item text attention mask to
   heads with ``repeat(nhead, 1, 1)``, giving the order ``[b0, b1, b0, b1, ...]``;
   ``nn.MultiheadAttention`` expects ``[b0 x nhead, b1 x nhead]``. Every item of a batch then
   attends with other items' masks (box shifts of up to 0.9 in normalised coordinates).
2. ``generate_masks_with_special_tokens_and_transfer_map`` treats the final ``[SEP]`` of a
   padded (shorter) caption as a phrase delimiter instead of the end of the text, so a caption
   encodes differently when a longer one shares its batch.
3. ``BiMultiHeadAttention`` (the image-text fusion layers) subtracts ``attn_weights.max()``, a
   maximum over the *whole batch*, before clamping at +-50000, so every item's attention
   depends on its batch-mates' values (2e-6 in the encoder memory, which the top-900 query
   selection turns into other queries: 0.03 in token probabilities and 0.28 in normalised boxes
   for coffee.png batched with its mirror image). The replacement calls the upstream forward
   once per item, so each item takes its own maximum on exactly the shapes of its solo run.

The replacements are identical to upstream for a batch of one. ``apply()`` is idempotent and
refuses to patch functions other than the ones these fixes were written for (see ``patching``).
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from handler.backends.patching import guarded_patch, per_item

# Source fingerprints of the rf-groundingdino 0.3.0 functions the fixes replace or wrap.
TEXT_ENCODER_LAYER_FORWARD = "a42aa225f35d071f"
GENERATE_MASKS = "fd5f9f86101586aa"
FUSION_ATTENTION_FORWARD = "a21480291f924d77"
BERT_WARPER_FORWARD = "242df35608126547"


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
    from groundingdino.models.GroundingDINO import bertwarper, fuse_modules, groundingdino, transformer_vanilla

    text_layer = transformer_vanilla.TransformerEncoderLayer
    text_layer_dims = {"src": 1, "src_mask": 0, "src_key_padding_mask": 0, "pos": 1}
    guarded_patch(
        text_layer, "forward", per_item(text_layer.forward, text_layer_dims, (1,)), TEXT_ENCODER_LAYER_FORWARD
    )
    guarded_patch(
        groundingdino,
        "generate_masks_with_special_tokens_and_transfer_map",
        generate_masks_with_special_tokens_and_transfer_map,
        GENERATE_MASKS,
    )
    bert = bertwarper.BertModelWarper
    bert_dims = {"input_ids": 0, "attention_mask": 0, "token_type_ids": 0, "position_ids": 0}
    guarded_patch(bert, "forward", per_item(bert.forward, bert_dims, (0,)), BERT_WARPER_FORWARD)
    attention = fuse_modules.BiMultiHeadAttention
    attention_dims = {"v": 0, "l": 0, "attention_mask_v": 0, "attention_mask_l": 0}
    guarded_patch(attention, "forward", per_item(attention.forward, attention_dims, (0, 0)), FUSION_ATTENTION_FORWARD)


def apply_to_model(model: nn.Module) -> None:
    """Per-model part of the fixes: the text projection (``feat_map``, a Linear) runs per batch item too."""
    linear = model.feat_map
    linear.forward = types.MethodType(per_item(type(linear).forward, {"input": 0}, (0,)), linear)
