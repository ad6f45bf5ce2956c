"""Each fix to the upstream model code removes one path by which batch items influence each other."""

from __future__ import annotations

import pytest
import torch

from handler.backends.upstream import batch_invariance


@pytest.fixture(scope="module", autouse=True)
def fixes_applied() -> None:
    batch_invariance.apply()


def _fusion_attention() -> torch.nn.Module:
    from groundingdino.models.GroundingDINO.fuse_modules import BiMultiHeadAttention

    torch.manual_seed(0)
    return BiMultiHeadAttention(v_dim=32, l_dim=48, embed_dim=32, num_heads=4, dropout=0.0).eval()


def test_fusion_attention_of_an_item_ignores_a_batch_mate_with_much_larger_attention_scores() -> None:
    attention = _fusion_attention()
    v, text = torch.randn(1, 50, 32), torch.randn(1, 7, 48)
    loud_v, loud_text = 300 * torch.randn(1, 50, 32), 300 * torch.randn(1, 7, 48)
    alone = attention(v, text)
    batched = attention(torch.cat([v, loud_v]), torch.cat([text, loud_text]))
    assert torch.equal(batched[0][:1], alone[0]) and torch.equal(batched[1][:1], alone[1])


def test_upstream_fusion_attention_leaks_the_batch_wide_maximum() -> None:
    """The cause, shown on the unpatched function: its clamp at -50000 bites after a batch-wide shift."""
    attention = _fusion_attention()
    upstream = type(attention).forward.__wrapped__
    v, text = torch.randn(1, 50, 32), torch.randn(1, 7, 48)
    loud_v, loud_text = 300 * torch.randn(1, 50, 32), 300 * torch.randn(1, 7, 48)
    alone = upstream(attention, v, text)
    batched = upstream(attention, torch.cat([v, loud_v]), torch.cat([text, loud_text]))
    assert not torch.allclose(batched[0][:1], alone[0], atol=1e-3)


def test_text_enhancer_layer_of_an_item_uses_its_own_mask() -> None:
    from groundingdino.models.GroundingDINO.transformer_vanilla import TransformerEncoderLayer

    torch.manual_seed(0)
    layer = TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0).eval()
    src, pos = torch.randn(6, 2, 32), torch.randn(6, 2, 32)
    masks = torch.rand(2, 6, 6) > 0.5
    masks[:, torch.arange(6), torch.arange(6)] = False  # every token may attend to itself
    batched = layer(src, src_mask=masks, pos=pos)
    for item in range(2):
        alone = layer(src[:, item : item + 1], src_mask=masks[item : item + 1], pos=pos[:, item : item + 1])
        assert torch.equal(batched[:, item : item + 1], alone)
