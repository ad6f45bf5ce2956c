"""The upstream back end's GPU speed-ups leave answers unchanged, checked on the CPU.

* ``sync_free_decoder``: the decoder without its per-layer NaN print answers bitwise as upstream;
* ``float16_islands``: a no-op in float32 and bfloat16 (bitwise); under float16, where fusion
  attention logits past 65504 overflow, the island keeps every score finite (CPU autocast runs
  float16 too, slowly);
* ``compile_mode``: the compiled parts answer as eager ones. Inductor's code generation for the
  Swin backbone took 356 s on this project's 2-core CPU (too slow for CI), so the CPU test compiles
  with the ``aot_eager`` back end: the same Dynamo graphs of the same patched modules, no code
  generation (about 20-50 s). Inductor itself runs on a GPU (``scripts/gpu_check.sh``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch

from gdino_serve.tools.model_variants import class_forward, fusion_attentions
from gdino_serve.tools.sample_photos import photo_bytes
from handler.backends.upstream.compiled import COMPILED_PARTS, compile_model
from handler.core.pipeline import DetectionPipeline
from tests.support.fusion_overflow import FLOAT16_MAX, fusion_logit_peaks, overflow_fusion_logits

CAPTION = b"a person . a cat . a rocket"
SIDE = 160  # model input pixels per side
# aot_eager runs the traced graph op by op; measured bitwise equal, a float32 rounding is allowed.
COMPILED_TOLERANCE = 1e-5


def model_outputs(pipeline: DetectionPipeline, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Token probabilities and boxes of a corner of one photo (small: CPU time), the model called
    directly under ``dtype`` autocast."""
    prepared = pipeline.prepare({"image": photo_bytes("astronaut.png"), "caption": CAPTION})
    image = prepared.image[:, :SIDE, :SIDE]
    autocast = torch.autocast("cpu", dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        outputs = pipeline.detector.model(image[None], captions=[prepared.request.caption])
    return outputs["pred_logits"].float().sigmoid(), outputs["pred_boxes"].float()


def test_speedups_follow_the_settings(pipeline: DetectionPipeline, make_pipeline: Callable[..., DetectionPipeline]):
    plain = make_pipeline(sync_free_decoder=False, float16_islands=False, warmup=False)
    for speedy, checked in ((True, pipeline), (False, plain)):
        model = checked.detector.model
        assert ("forward" in vars(model.transformer.decoder)) is speedy
        assert all(("forward" in vars(attention)) is speedy for attention in fusion_attentions(model))
        assert all(model.get_submodule(part)._compiled_call_impl is None for part in COMPILED_PARTS)


def test_sync_free_decoder_answers_bitwise_as_upstream(pipeline: DetectionPipeline) -> None:
    decoder = pipeline.detector.model.transformer.decoder
    assert "isnan" not in decoder.forward.__code__.co_names
    probs, boxes = model_outputs(pipeline)
    with class_forward([decoder]):
        assert "isnan" in decoder.forward.__code__.co_names
        upstream_probs, upstream_boxes = model_outputs(pipeline)
    assert torch.equal(probs, upstream_probs) and torch.equal(boxes, upstream_boxes)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_float16_islands_change_nothing_in_float32_and_bfloat16(pipeline: DetectionPipeline, dtype) -> None:
    probs, boxes = model_outputs(pipeline, dtype)
    with class_forward(fusion_attentions(pipeline.detector.model)):
        without_probs, without_boxes = model_outputs(pipeline, dtype)
    assert torch.equal(probs, without_probs) and torch.equal(boxes, without_boxes)


@pytest.fixture(scope="module")
def overflowing(make_pipeline: Callable[..., DetectionPipeline]) -> DetectionPipeline:
    """A tiny model (its own copy) whose fusion attention logits exceed float16's range."""
    pipeline = make_pipeline(warmup=False)
    overflow_fusion_logits(pipeline.detector.model)
    return pipeline


def test_float16_islands_keep_scores_finite_where_fusion_logits_overflow_float16(overflowing) -> None:
    with fusion_logit_peaks(overflowing.detector.model) as peaks:
        reference, _ = model_outputs(overflowing)
    assert max(peaks) > FLOAT16_MAX
    with class_forward(fusion_attentions(overflowing.detector.model)):
        without, _ = model_outputs(overflowing, torch.float16)
    probs, boxes = model_outputs(overflowing, torch.float16)
    assert torch.isfinite(reference).all()
    assert not torch.isfinite(without).all()  # inf - inf in the fusion attention: NaN scores
    assert torch.isfinite(probs).all() and torch.isfinite(boxes).all()


def test_compiled_parts_answer_as_eager(make_pipeline: Callable[..., DetectionPipeline]) -> None:
    pipeline = make_pipeline(warmup=False)  # its own model: compiling changes it in place
    eager_probs, eager_boxes = model_outputs(pipeline)
    compile_model(pipeline.detector.model, "default", backend="aot_eager")
    probs, boxes = model_outputs(pipeline)
    assert all(pipeline.detector.model.get_submodule(part)._compiled_call_impl for part in COMPILED_PARTS)
    assert float((probs - eager_probs).abs().max()) <= COMPILED_TOLERANCE
    assert float((boxes - eager_boxes).abs().max()) <= COMPILED_TOLERANCE
