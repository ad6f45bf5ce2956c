"""The transformers fusion attention, patched, gives each batch item its solo answer."""

from __future__ import annotations

import pytest
import torch

from gdino_serve.demo_hf_model import build_config
from handler.backends.transformers import batch_invariance


def _attention_classes() -> list[type]:
    from transformers.models.grounding_dino import modeling_grounding_dino
    from transformers.models.mm_grounding_dino import modeling_mm_grounding_dino

    return [
        modeling_grounding_dino.GroundingDinoBiMultiHeadAttention,
        modeling_mm_grounding_dino.MMGroundingDinoBiMultiHeadAttention,
    ]


@pytest.mark.parametrize("index", [0, 1])
def test_fusion_attention_of_a_batch_equals_each_item_alone(index: int) -> None:
    """Item 1's large logits would shift item 0's through the batch-wide max without the fix."""
    batch_invariance.apply()
    attention_class = _attention_classes()[index]
    torch.manual_seed(0)
    attention = attention_class(build_config("grounding-dino")).eval()
    vision = torch.randn(2, 50, 32)
    vision[1] *= 1e6  # logits past the +-50000 clamp
    text = torch.randn(2, 7, 32)
    vision_mask = torch.zeros(2, 50, dtype=torch.bool)
    text_mask = torch.zeros(2, 7, dtype=torch.bool)
    with torch.no_grad():
        (batched, _), (batched_text, _) = attention(vision, text, vision_mask, text_mask)
        (alone, _), (alone_text, _) = attention(vision[:1], text[:1], vision_mask[:1], text_mask[:1])
        (unfixed, _), _ = attention_class.forward.__wrapped__(attention, vision, text, vision_mask, text_mask)
    assert torch.equal(batched[:1], alone) and torch.equal(batched_text[:1], alone_text)
    assert (unfixed[:1] - alone).abs().max() > 1e-3  # the library's own forward mixes the items


def test_fixes_apply_once_to_the_pinned_library() -> None:
    batch_invariance.apply()
    patched = [attention.forward for attention in _attention_classes()]
    batch_invariance.apply()
    assert [attention.forward for attention in _attention_classes()] == patched
