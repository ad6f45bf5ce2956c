"""A model whose image-text fusion attention logits exceed float16's range, as trained weights can
(upstream clamps them at +-50000: "data type half has quite limited range"), and their peaks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from gdino_serve.tools.model_variants import fusion_attentions

FLOAT16_MAX = 65504.0
# Projection weights times 128 put the tiny random model's fusion logits near 1e5 (measured 9.8e4;
# 6.0 unscaled): past float16's range.
OVERFLOW_SCALE = 128.0


def overflow_fusion_logits(model: nn.Module) -> None:
    """Scale ``model``'s fusion attention projections in place so that its logits pass 65504."""
    with torch.no_grad():
        for attention in fusion_attentions(model):
            attention.v_proj.weight.mul_(OVERFLOW_SCALE)
            attention.l_proj.weight.mul_(OVERFLOW_SCALE)


@contextlib.contextmanager
def fusion_logit_peaks(model: nn.Module) -> Iterator[list[float]]:
    """While the block runs: the largest |logit| of each fusion attention call, recomputed in float32."""
    found: list[float] = []

    def record(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        image, text = (value.float() for value in args[:2])
        query = (module.v_proj(image) * module.scale).unflatten(-1, (module.num_heads, -1))
        key = module.l_proj(text).unflatten(-1, (module.num_heads, -1))
        found.append(float(torch.einsum("bnhd,bmhd->bhnm", query, key).abs().max()))

    hooks = [attention.register_forward_pre_hook(record) for attention in fusion_attentions(model)]
    try:
        yield found
    finally:
        for hook in hooks:
            hook.remove()
