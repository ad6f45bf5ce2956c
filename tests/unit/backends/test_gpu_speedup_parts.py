"""The parts of the GPU speed-ups that need no model: the NaN-check removal, the float16 island,
and the compile_mode setting's start-up check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handler.backends.transformers.detector import TransformersDetector
from handler.backends.upstream.compiled import COMPILE_MODES, check_compile_mode
from handler.backends.upstream.decoder_sync import without_nan_checks
from handler.backends.upstream.detector import UpstreamDetector
from handler.backends.upstream.float32_islands import float16_island
from handler.core.settings import HandlerSettings

printed: list[str] = []


def layers(x: torch.Tensor) -> torch.Tensor:
    for _ in range(3):
        x = x * 2
        if x.isnan().any() | x.isinf().any():
            printed.append("nan")
        if x.sum() > 1e9:
            x = x / 2
    return x


def test_nan_checks_are_removed_and_nothing_else() -> None:
    sync_free = without_nan_checks(layers)
    assert "isnan" not in sync_free.__code__.co_names and "isnan" in layers.__code__.co_names
    assert sync_free.__code__.co_firstlineno == layers.__code__.co_firstlineno
    values = torch.tensor([1e9, float("nan")])
    printed.clear()
    expected = layers(values)
    assert printed == ["nan"] * 3
    printed.clear()
    assert torch.allclose(sync_free(values), expected, equal_nan=True)  # the other `if` still halves
    assert printed == []


def test_a_function_without_nan_checks_is_refused() -> None:
    with pytest.raises(ValueError, match="no NaN check"):
        without_nan_checks(test_a_function_without_nan_checks_is_refused)


def seen(x: torch.Tensor) -> tuple[torch.dtype, bool]:
    return x.dtype, torch.is_autocast_enabled("cpu")


def test_float16_island_is_float32_under_float16_autocast_only() -> None:
    island = float16_island(seen)
    half = torch.ones(2, dtype=torch.float16)
    with torch.autocast("cpu", dtype=torch.float16):
        assert island(half) == (torch.float32, False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert island(half) == (torch.float16, True)
    assert island(half) == (torch.float16, False)


def test_compile_modes_are_checked_at_start_up_before_the_model_loads() -> None:
    for mode in ("", *COMPILE_MODES):
        check_compile_mode(mode)
    missing = Path("/nonexistent")
    with pytest.raises(ValueError, match="compile_mode='fast' is not one of"):
        UpstreamDetector.load(missing, missing / "x.pth", HandlerSettings(compile_mode="fast"), torch.device("cpu"))
    with pytest.raises(ValueError, match="upstream back end only"):
        TransformersDetector.load(missing, missing / "x", HandlerSettings(compile_mode="default"), torch.device("cpu"))
