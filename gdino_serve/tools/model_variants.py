"""The upstream model with one of its fixes or speed-ups taken off for a while, and CUDA's host
synchronisations counted: what the GPU check compares, and what the tests compare on the CPU and CUDA.

* :func:`class_forward`: modules run their class's forward (a per-model speed-up such as the
  sync-free decoder or a float16 island removed);
* :func:`upstream_batching`: batch items share every call as upstream has them (the per-item
  wrappers of ``handler.backends.upstream.batch_invariance`` removed), what exact batching costs;
* :func:`count_host_syncs`: how often a call makes the host wait for the GPU.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn


def fusion_attentions(model: nn.Module) -> list[nn.Module]:
    """The image-text fusion attention of each encoder layer."""
    return [layer.attn for layer in model.transformer.encoder.fusion_layers]


@contextlib.contextmanager
def class_forward(modules: list[nn.Module]) -> Iterator[None]:
    """While the block runs, ``modules`` use their class's forward (their per-model forward removed)."""
    own = [module for module in modules if "forward" in vars(module)]
    saved = [vars(module).pop("forward") for module in own]
    try:
        yield
    finally:
        for module, forward in zip(own, saved):
            module.forward = forward


@contextlib.contextmanager
def upstream_batching(model: nn.Module) -> Iterator[None]:
    """While the block runs, batch items share every call as upstream has them: the text layers,
    BERT, the text projection and the fusion attention run on the whole batch at once again."""
    from groundingdino.models.GroundingDINO import bertwarper, fuse_modules, transformer_vanilla

    owners = (
        transformer_vanilla.TransformerEncoderLayer,
        bertwarper.BertModelWarper,
        fuse_modules.BiMultiHeadAttention,
    )
    wrappers = [vars(owner)["forward"] for owner in owners]
    with class_forward([model.feat_map, *fusion_attentions(model)]):
        for owner, wrapper in zip(owners, wrappers):
            owner.forward = wrapper.__wrapped__
        try:
            yield
        finally:
            for owner, wrapper in zip(owners, wrappers):
                owner.forward = wrapper


def count_host_syncs(call: Callable[[], Any]) -> int:
    """How many synchronising CUDA operations ``call`` makes (CUDA's sync debug mode, in warn mode)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            call()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(warning.message) for warning in caught)
