"""Fixes to the transformers GroundingDINO code that make batched inference equal to one-by-one.

``GroundingDinoBiMultiHeadAttention`` and ``MMGroundingDinoBiMultiHeadAttention`` (the
image-text fusion layers) subtract ``attn_weights.max()``, a maximum over the *whole batch*,
before clamping at +-50000, the same as upstream's ``BiMultiHeadAttention``: every item's
attention then depends on its batch-mates' values, which the top-k query selection can turn
into other boxes. The replacement calls the library's forward once per item.

The rest was checked and needs no fix: the text enhancer expands its mask as
``[:, None].repeat(1, heads, 1, 1)`` (the right per-item layout), and the phrase masks of
``generate_masks_with_special_tokens_and_transfer_map`` only go wrong for padded captions,
which the batching planner never mixes (one caption token length per call).
"""

from __future__ import annotations

from handler.backends.patching import guarded_patch, per_item

# Source fingerprint of the transformers 4.57.6 fusion attention forward (the same code in both models).
FUSION_ATTENTION_FORWARD = "37743972cb0e9828"
_FUSION_DIMS = {"vision_features": 0, "text_features": 0, "vision_attention_mask": 0, "text_attention_mask": 0}


def apply() -> None:
    """Run both fusion attentions per batch item (idempotent; refuses other library versions)."""
    from transformers.models.grounding_dino import modeling_grounding_dino
    from transformers.models.mm_grounding_dino import modeling_mm_grounding_dino

    for attention in (
        modeling_grounding_dino.GroundingDinoBiMultiHeadAttention,
        modeling_mm_grounding_dino.MMGroundingDinoBiMultiHeadAttention,
    ):
        guarded_patch(attention, "forward", per_item(attention.forward, _FUSION_DIMS, (0, 0)), FUSION_ATTENTION_FORWARD)
