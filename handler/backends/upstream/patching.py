"""Version-guarded monkey-patches of upstream code.

Every patch names the fingerprint (a hash of the source) of the function it was written
for. When an upgraded ``rf-groundingdino`` ships a different function, start-up fails loudly
instead of silently replacing new code with a fix for old code. To patch something new: read
the target's :func:`fingerprint` once, then call :func:`guarded_patch` with it.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any


class UpstreamChanged(RuntimeError):
    """The upstream function a patch targets is not the one the patch was written for."""


def fingerprint(function: Callable[..., Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``function``'s source code."""
    return hashlib.sha256(inspect.getsource(function).encode("utf-8")).hexdigest()[:16]


def check_fingerprint(function: Callable[..., Any], expected: str) -> None:
    """Raise :class:`UpstreamChanged` unless ``function``'s source has fingerprint ``expected``."""
    found = fingerprint(function)
    if found != expected:
        raise UpstreamChanged(
            f"{function.__module__}.{function.__qualname__} has changed (source fingerprint {found}, "
            f"the patch was written for {expected}); this handler supports rf-groundingdino==0.3.0: "
            "pin that version or review the patch and update its fingerprint"
        )


def guarded_patch(owner: Any, name: str, replacement: Any, expected_fingerprint: str) -> None:
    """Set ``owner.name = replacement`` after checking the current value's fingerprint (idempotent)."""
    current = getattr(owner, name)
    if current is replacement:
        return
    check_fingerprint(getattr(current, "__wrapped__", current), expected_fingerprint)
    setattr(owner, name, replacement)
