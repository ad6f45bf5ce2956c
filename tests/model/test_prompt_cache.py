"""The prompt cache with a real model: bitwise the same answers on every back end, hits, eviction.

Tiny random-weight models: the question is whether the cached text reaches the model exactly as
the model's own text path computes it (bitwise), not how large a difference the full model makes.
Hits and eviction are the back-end-independent cache, checked on the upstream back end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from handler.core.detections import Detections
from handler.core.pipeline import DetectionPipeline
from handler.core.prompt_cache import BYTES_PER_MB, PromptCache, encoding_bytes
from tests.support.model_inputs import NAMES_400

WATERMELON = "The picture contains watermelon, flower, and a white bottle."
BACKENDS = ["upstream", "grounding-dino", "mm-grounding-dino"]


def every_mode(image: bytes) -> list[dict[str, Any]]:
    """One request per prompt mode (and a class list of several chunks)."""
    common = {"image": image, "box_threshold": 0.0, "normalized": True, "max_detections": 300}
    return [
        {**common, "vocabulary": "coco"},
        {**common, "vocabulary": "voc", "classes_per_chunk": 7},
        {**common, "classes": NAMES_400[:120]},
        {**common, "caption": "cup . a silver spoon"},
        {**common, "caption": WATERMELON, "entities": [[21, 31], [45, 59]]},
        {**common, "caption": "the red cup on the left", "referring": True},
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def make(request: pytest.FixtureRequest, make_pipeline, make_hf_pipeline) -> Callable[..., DetectionPipeline]:
    """A pipeline factory for each back end (tiny models; keyword arguments override settings)."""
    if request.param == "upstream":
        return lambda **settings: make_pipeline(warmup=False, **settings)
    return lambda **settings: make_hf_pipeline(request.param, warmup=False, **settings)


def assert_bitwise_equal(actual: list[Any], expected: list[Any]) -> None:
    for got, want in zip(actual, expected, strict=True):
        assert isinstance(got, Detections) and isinstance(want, Detections), (got, want)
        assert len(want.scores) > 0
        assert torch.equal(got.boxes, want.boxes) and torch.equal(got.scores, want.scores)
        assert torch.equal(got.class_ids, want.class_ids)
        assert (got.labels, got.phrases) == (want.labels, want.phrases)


def test_answers_with_and_without_the_cache_are_bitwise_equal(make, photos) -> None:
    requests = every_mode(photos["coffee.png"])
    uncached = make(prompt_cache_mb=0)
    cached = make()
    without = uncached.run(requests)
    first = cached.run(requests)  # fills the cache
    again = cached.run(requests)  # reads it
    assert_bitwise_equal(first, without)
    assert_bitwise_equal(again, without)
    assert uncached.detector.prompt_cache.counts.hits == 0 and not uncached.detector.prompt_cache.entries


def test_the_cached_text_is_what_the_models_own_text_path_computes(make, photos) -> None:
    """The decode with the injected encodings equals the library's forward run from the caption."""
    pipeline = make()
    detector = pipeline.detector
    prepared = pipeline.prepare({"image": photos["chelsea.png"], "caption": WATERMELON, "entities": [[21, 31]]})
    (chunk,) = prepared.prompt.chunks
    images = prepared.image[None]
    with torch.inference_mode():
        ours = detector.decode(detector.encode_images(images), [0], [chunk.caption]).probs
        if hasattr(detector, "hf_tokenizer"):
            text = detector.hf_tokenizer([chunk.caption], return_tensors="pt")
            native = detector.model(pixel_values=images, **text).logits.sigmoid()
        else:
            native = detector.model(images, captions=[chunk.caption])["pred_logits"].sigmoid()
    assert torch.equal(ours, native)


def test_a_second_request_with_the_same_prompt_is_a_hit(make_pipeline, photos) -> None:
    pipeline = make_pipeline(warmup=False)
    request = {"image": photos["coffee.png"], "vocabulary": "objects365"}  # four chunks
    first = pipeline.run_timed([request]).timer.counts
    second = pipeline.run_timed([{**request, "image": photos["chelsea.png"]}]).timer.counts
    assert first == {"prompt_cache_hits": 0, "prompt_cache_misses": 4}
    assert second == {"prompt_cache_hits": 4, "prompt_cache_misses": 0}
    shared = pipeline.run_timed([request, {**request, "image": photos["rocket.jpg"]}]).timer.counts
    assert shared == {"prompt_cache_hits": 8, "prompt_cache_misses": 0}


def test_the_bound_evicts_and_evicted_prompts_are_computed_again_to_the_same_answer(make_pipeline, photos) -> None:
    pipeline = make_pipeline(warmup=False)
    request = {"image": photos["coffee.png"], "vocabulary": "objects365", "box_threshold": 0.0}
    expected = pipeline.run([request])
    sizes = [encoding_bytes(entry) for entry in pipeline.detector.prompt_cache.entries.values()]
    assert len(sizes) == 4
    pipeline.detector.prompt_cache = PromptCache(limit_mb=(max(sizes) + min(sizes)) / BYTES_PER_MB)  # two at most
    first = pipeline.run_timed([request])
    second = pipeline.run_timed([request])
    cache = pipeline.detector.prompt_cache
    assert 1 <= len(cache.entries) <= 2 and cache.bytes <= cache.limit_bytes
    assert cache.counts.evictions == 2 * 4 - len(cache.entries)  # every entry made is kept or evicted
    assert second.timer.counts == {"prompt_cache_hits": 0, "prompt_cache_misses": 4}  # LRU: a longer cycle misses
    assert_bitwise_equal(first.outcomes, expected)
    assert_bitwise_equal(second.outcomes, expected)
