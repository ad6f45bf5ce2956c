"""Float32 islands: the parts of the upstream model that stay in float32 under mixed precision.

The ``dtype`` setting and its autocast live in ``handler.backends.dtypes``. Under autocast most
of the model (Swin, BERT, the transformer's linear layers) runs in float16 or bfloat16.
Three parts are numerically fragile and always run in float32:

* deformable attention (``MSDeformAttn``): sampling locations are reference points plus small
  offsets; in 16 bits they move by up to a pixel of the feature map on large images;
* ``inverse_sigmoid``: ``log(x / (1 - x))`` near 0 and 1 loses most of its digits, and the box
  refinement (``delta + inverse_sigmoid(ref)`` then ``sigmoid``) is then done in float32;
* the text-image contrastive logits (``ContrastiveEmbed``), whose sigmoid is the score compared
  with the thresholds.

Upstream also runs the decoder FFN with CUDA autocast off; its input is cast to float32 here so
a 16-bit activation never meets a float32 weight there.

One more part overflows float16 only (float16's largest value is 65504; bfloat16 has float32's
range): the image-text fusion attention (``BiMultiHeadAttention``). Its logits are a plain product of
two projections; upstream clamps them at +-50000 ("data type half has quite limited range"), but
the clamp comes after the product: a logit above 65504 is already ``inf`` in float16, and the
batch-wide maximum it subtracts next makes it ``inf - inf = NaN``, which the softmax spreads to every
image and text feature, so every score of the image is NaN. :func:`apply_float16_islands` runs it in
float32 under float16 autocast only (the ``float16_islands`` setting), on one model.

In float32 (the default) the islands change nothing. ``apply()`` is idempotent and checks each
target's source fingerprint first (see ``patching``).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from handler.backends.patching import check_fingerprint, guarded_patch
from handler.backends.upstream.batch_invariance import FUSION_ATTENTION_FORWARD

_PATCHED = "_float32_island"


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    if isinstance(value, dict):
        return {key: _to_float32(item) for key, item in value.items()}
    return value


def _device_type(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The device type of the first tensor argument (the autocast that applies to the call)."""
    return next((value.device.type for value in (*args, *kwargs.values()) if isinstance(value, torch.Tensor)), "cpu")


def float32_island(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with autocast off and its floating-point tensor arguments in float32."""
    if getattr(function, _PATCHED, False):
        return function

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type=_device_type(args, kwargs), enabled=False):
            return function(*[_to_float32(a) for a in args], **{k: _to_float32(v) for k, v in kwargs.items()})

    setattr(wrapper, _PATCHED, True)
    return wrapper


def float16_island(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a :func:`float32_island` while float16 autocast is on; unchanged otherwise."""
    island = float32_island(function)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device_type = _device_type(args, kwargs)
        if torch.is_autocast_enabled(device_type) and torch.get_autocast_dtype(device_type) == torch.float16:
            return island(*args, **kwargs)
        return function(*args, **kwargs)

    return wrapper


def _island(owner: Any, name: str, expected_fingerprint: str) -> None:
    guarded_patch(owner, name, float32_island(getattr(owner, name)), expected_fingerprint)


def apply() -> None:
    """Keep the fragile parts of the imported upstream modules in float32."""
    from groundingdino.models.GroundingDINO import groundingdino, ms_deform_attn, transformer, utils

    # Source fingerprints of the rf-groundingdino 0.3.0 functions made float32 islands.
    _island(ms_deform_attn.MultiScaleDeformableAttention, "forward", "37e1a90580987be8")
    _island(utils.ContrastiveEmbed, "forward", "58d3f57879be1ff0")
    _island(transformer.DeformableTransformerDecoderLayer, "forward_ffn", "5b296502e037d04d")
    for module in (groundingdino, transformer):
        _island(module, "inverse_sigmoid", "48d39f51ca25b796")


def apply_float16_islands(model: nn.Module) -> None:
    """Run ``model``'s fusion attention layers in float32 under float16 autocast (this model only; idempotent)."""
    from groundingdino.models.GroundingDINO import fuse_modules

    for module in model.modules():
        if isinstance(module, fuse_modules.BiMultiHeadAttention) and "forward" not in vars(module):
            forward = type(module).forward  # the per-item wrapper of batch_invariance
            check_fingerprint(getattr(forward, "__wrapped__", forward), FUSION_ATTENTION_FORWARD)
            module.forward = types.MethodType(float16_island(forward), module)
