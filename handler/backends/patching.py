"""Version-guarded monkey-patches of model-library code, and the per-batch-item wrapper they use.

Every patch names the fingerprint (a hash of the source) of the function it was written
for. When an upgraded library ships a different function, start-up fails loudly instead of
silently replacing new code with a fix for old code. To patch something new: read the target's
:func:`fingerprint` once, then call :func:`guarded_patch` with it (:func:`patched` for a patch
that holds only while a block runs).

:func:`per_item` is the fix both back ends need for code that mixes a batch's items (e.g. an
attention that subtracts a batch-wide maximum): it runs the function once per item.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

_PER_ITEM = "_per_batch_item"
_ABSENT = object()


class UpstreamChanged(RuntimeError):
    """The library function a patch targets is not the one the patch was written for."""


def fingerprint(function: Callable[..., Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``function``'s source code (a method: its function's)."""
    return _source_fingerprint(getattr(function, "__func__", function))


@functools.cache
def _source_fingerprint(function: Callable[..., Any]) -> str:
    """Read once per function: :func:`patched` checks its target at every model call."""
    return hashlib.sha256(inspect.getsource(function).encode("utf-8")).hexdigest()[:16]


def check_fingerprint(function: Callable[..., Any], expected: str) -> None:
    """Raise :class:`UpstreamChanged` unless ``function``'s source has fingerprint ``expected``."""
    found = fingerprint(function)
    if found != expected:
        raise UpstreamChanged(
            f"{function.__module__}.{function.__qualname__} has changed (source fingerprint {found}, "
            f"the patch was written for {expected}); this handler supports rf-groundingdino==0.3.0 and "
            "transformers==4.57.6: pin those versions or review the patch and update its fingerprint"
        )


def guarded_patch(owner: Any, name: str, replacement: Any, expected_fingerprint: str) -> None:
    """Set ``owner.name = replacement`` after checking the current value's fingerprint (idempotent)."""
    current = getattr(owner, name)
    if current is replacement:
        return
    check_fingerprint(getattr(current, "__wrapped__", current), expected_fingerprint)
    setattr(owner, name, replacement)


@contextlib.contextmanager
def patched(owner: Any, name: str, replacement: Any, expected_fingerprint: str) -> Iterator[None]:
    """:func:`guarded_patch` for the ``with`` block only; afterwards ``owner.name`` is what it was
    (an instance's override is removed, so the class's attribute shows through again)."""
    own = vars(owner).get(name, _ABSENT)
    guarded_patch(owner, name, replacement, expected_fingerprint)
    try:
        yield
    finally:
        if own is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, own)


def _concatenate(outputs: list[Any], dims: Sequence[int]) -> Any:
    """Per-item outputs joined back into one batch: tensors, (nested) tuples of tensors, or a ModelOutput."""
    first = outputs[0]
    if isinstance(first, Tensor):
        return torch.cat(outputs, dim=dims[0])
    if isinstance(first, Mapping):
        return type(first)(**{key: torch.cat([output[key] for output in outputs], dim=dims[0]) for key in first})
    return tuple(
        _concatenate(list(parts), [dim] * (len(parts[0]) if isinstance(parts[0], tuple) else 1))
        for parts, dim in zip(zip(*outputs), dims)
    )


def per_item(forward: Callable[..., Any], batch_dims: dict[str, int], output_dims: Sequence[int]) -> Callable[..., Any]:
    """``forward`` run on each batch item alone, outputs concatenated (``batch_dims``: each argument's batch dim)."""
    if getattr(forward, _PER_ITEM, False):
        return forward
    names = list(inspect.signature(forward).parameters)[1:]

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = {**dict(zip(names, args)), **kwargs}
        first = next(name for name in batch_dims if bound.get(name) is not None)
        size = bound[first].shape[batch_dims[first]]
        if size == 1:
            return forward(self, **bound)

        def item(index: int) -> dict[str, Any]:
            return {
                name: value.narrow(batch_dims[name], index, 1) if name in batch_dims and value is not None else value
                for name, value in bound.items()
            }

        return _concatenate([forward(self, **item(index)) for index in range(size)], output_dims)

    setattr(wrapper, _PER_ITEM, True)
    return wrapper
