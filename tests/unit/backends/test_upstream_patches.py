"""Every monkey-patch of upstream code checks it patches the function it was written for."""

from __future__ import annotations

import types

import pytest

from handler.backends.patching import UpstreamChanged, fingerprint, guarded_patch


def original(x: int) -> int:
    return x + 1


def replacement(x: int) -> int:
    return x + 2


def test_patch_of_the_expected_function_is_applied_once() -> None:
    owner = types.SimpleNamespace(target=original)
    guarded_patch(owner, "target", replacement, fingerprint(original))
    guarded_patch(owner, "target", replacement, fingerprint(original))  # idempotent
    assert owner.target is replacement


def test_patch_of_a_changed_upstream_function_fails_loudly_at_start_up() -> None:
    owner = types.SimpleNamespace(target=replacement)
    with pytest.raises(UpstreamChanged, match="has changed"):
        guarded_patch(owner, "target", original, fingerprint(original))
