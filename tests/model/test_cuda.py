"""Behaviour on cuda:0 (marker ``cuda``: skipped without a CUDA GPU; ``scripts/gpu_check.sh`` runs
them on a lent one). Batched-equals-solo on CUDA is ``test_batch_invariance.py``'s ``upstream-cuda`` case.

* the GPU preprocessing (uint8 upload, antialiased resize and normalisation on the device) is
  within one grey level of the CPU's Pillow path, pixel by pixel;
* the sync-free decoder saves exactly one host synchronisation per decoder layer, answers bitwise
  the same;
* under float16, the float16 islands keep every score finite where fusion logits overflow float16.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from gdino_serve.tools.benchmark import benchmark_images
from gdino_serve.tools.model_variants import class_forward, count_host_syncs, fusion_attentions
from gdino_serve.tools.sample_photos import photo_bytes
from handler.core.detector import QueryScores
from handler.core.image_decode import decode_image
from handler.core.pipeline import DetectionPipeline
from handler.core.preprocess import IMAGENET_STD, Preprocessor, Resize
from tests.support.fusion_overflow import FLOAT16_MAX, fusion_logit_peaks, overflow_fusion_logits

pytestmark = pytest.mark.cuda

CUDA = torch.device("cuda:0")
CAPTION = b"a person . a cat . a cup . a rocket"
# Pillow rounds its resized pixels to whole grey levels, the GPU path keeps fractions: up to one
# level apart (measured 0.995-1.001 on the CPU's run of the same tensor path), plus float rounding.
ONE_GREY_LEVEL = 1.01


def grey_levels(normalised: torch.Tensor) -> torch.Tensor:
    """A normalised image tensor back in grey levels (0-255 units)."""
    return normalised * torch.tensor(IMAGENET_STD, device=normalised.device).view(3, 1, 1) * 255


def test_gpu_preprocessing_is_within_one_grey_level_of_the_cpu_path() -> None:
    resize = Resize()
    for name, data in benchmark_images().items():
        decoded = decode_image(data, 40_000_000, resize.output_size)
        cpu = Preprocessor(resize, torch.device("cpu"))(decoded)
        gpu = Preprocessor(resize, CUDA)(decoded)
        assert gpu.device == CUDA and gpu.shape == cpu.shape, name
        difference = grey_levels(gpu.cpu() - cpu).abs()
        assert float(difference.max()) <= ONE_GREY_LEVEL, name
        assert float(difference.mean()) <= 0.5, name


def one_decode(pipeline: DetectionPipeline) -> Callable[[], QueryScores]:
    """One model call on a photo encoded beforehand (the decoder's part of the work)."""
    prepared = pipeline.prepare({"image": photo_bytes("astronaut.png"), "caption": CAPTION})
    detector = pipeline.detector
    encoded = detector.encode_images(prepared.image[None])
    return lambda: detector.decode(encoded, [0], [prepared.request.caption])


def test_sync_free_decoder_saves_one_host_sync_per_layer_and_answers_bitwise_the_same(cuda_full_pipeline) -> None:
    decoder = cuda_full_pipeline.detector.model.transformer.decoder
    call = one_decode(cuda_full_pipeline)
    call()  # warm-up: lazy initialisation makes its own synchronisations
    sync_free, answer = count_host_syncs(call), call()
    with class_forward([decoder]):
        upstream, upstream_answer = count_host_syncs(call), call()
    assert upstream - sync_free == decoder.num_layers, (upstream, sync_free)
    assert torch.equal(answer.probs, upstream_answer.probs) and torch.equal(answer.boxes, upstream_answer.boxes)


def test_float16_islands_keep_scores_finite_where_fusion_logits_overflow(make_pipeline) -> None:
    pipeline = make_pipeline("cuda:0", dtype="float16", warmup=False)  # its own model: changed below
    model = pipeline.detector.model
    overflow_fusion_logits(model)
    call = one_decode(pipeline)
    with fusion_logit_peaks(model) as peaks:
        scores = call()
    with class_forward(fusion_attentions(model)):
        without = call()
    assert max(peaks) > FLOAT16_MAX
    assert not torch.isfinite(without.probs).all()  # inf - inf in the fusion attention: NaN scores
    assert torch.isfinite(scores.probs).all() and torch.isfinite(scores.boxes).all()
