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

In float32 (the default) the islands change nothing. ``apply()`` is idempotent and checks each
target's source fingerprint first (see ``patching``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from handler.backends.patching import guarded_patch

_PATCHED = "_float32_island"


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    if isinstance(value, dict):
        return {key: _to_float32(item) for key, item in value.items()}
    return value


def float32_island(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with autocast off and its floating-point tensor arguments in float32."""
    if getattr(function, _PATCHED, False):
        return function

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device_type = next(
            (value.device.type for value in (*args, *kwargs.values()) if isinstance(value, torch.Tensor)), "cpu"
        )
        with torch.autocast(device_type=device_type, enabled=False):
            return function(*[_to_float32(a) for a in args], **{k: _to_float32(v) for k, v in kwargs.items()})

    setattr(wrapper, _PATCHED, True)
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
