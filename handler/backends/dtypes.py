"""The ``dtype`` setting: which torch dtype a model call runs in, and the autocast context for it."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

import torch

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The torch dtype for the ``dtype`` setting on ``device``; a ValueError if it cannot run there."""
    if name not in DTYPES:
        raise ValueError(f"handler setting dtype={name!r} is not one of {', '.join(DTYPES)}")
    if name == "float16" and device.type == "cpu":
        raise ValueError("handler setting dtype='float16' needs a CUDA device; on CPU use 'bfloat16' or 'float32'")
    return DTYPES[name]


def autocast(dtype: torch.dtype, device: torch.device) -> AbstractContextManager[Any]:
    """The context the model call runs in: autocast to ``dtype``, or nothing for float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
