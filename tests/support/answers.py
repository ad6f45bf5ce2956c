"""Comparing two detection answers: the same boxes for the same request, within exact batching's tolerance."""

from __future__ import annotations

import torch


def assert_close(a: dict, b: dict) -> None:
    """Same phrases, labels, classes and image size; scores within 1e-4 and boxes within 0.011 px (rounding)."""
    assert a["phrases"] == b["phrases"] and a["labels"] == b["labels"] and a["class_ids"] == b["class_ids"]
    assert a["image_size"] == b["image_size"]
    assert len(a["boxes"]) == len(b["boxes"]) > 0
    assert torch.allclose(torch.tensor(a["scores"]), torch.tensor(b["scores"]), atol=1e-4)
    assert torch.allclose(torch.tensor(a["boxes"]), torch.tensor(b["boxes"]), atol=0.011)
