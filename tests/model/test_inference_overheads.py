"""The model call wastes nothing at inference: no activation checkpointing, threads sized to cores."""

from __future__ import annotations

from handler.core.pipeline import DetectionPipeline

CHECKPOINT_FLAGS = ("use_checkpoint", "use_transformer_ckpt", "gradient_checkpointing")


def test_no_module_uses_activation_checkpointing_at_inference(pipeline: DetectionPipeline) -> None:
    flags = {
        (name, flag): getattr(module, flag)
        for name, module in pipeline.detector.model.named_modules()
        for flag in CHECKPOINT_FLAGS
        if hasattr(module, flag)
    }
    assert flags, "no checkpointing flags found: the upstream model changed"
    assert not any(flags.values()), [key for key, on in flags.items() if on]
    assert not pipeline.detector.model.training
