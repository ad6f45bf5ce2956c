"""A request's answer does not depend on its batch-mates, on every back end.

The upstream back end runs the full Swin-T config (on the CPU, and on cuda:0 where CUDA is), and so
does the openvino back end (the same random checkpoint converted to OpenVINO IR); the transformers
back end runs tiny random ``grounding-dino`` and ``mm-grounding-dino`` folders (the same fixes matter there: the fusion
attention's batch-wide maximum shows on the one-thread plan, which batches several captions).

Random weights amplify any numerical leak between batch items (the top-900 query selection turns
1e-6 into other boxes), so they are used on purpose. Every member of every batch is compared with
the same request run alone: same phrases, labels and class ids, boxes and scores within 1e-4.
The largest difference each test measured is logged (``pytest --log-cli-level=INFO``).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from typing import Any

import pytest
import torch
from PIL import Image, ImageOps

from handler.core.batching import CallLimits
from handler.core.pipeline import DetectionPipeline
from handler.core.settings import HandlerSettings
from handler.frontends.http.batch_answers import answer_bodies
from tests.support.images import encode
from tests.support.model_inputs import NAMES_400

logger = logging.getLogger(__name__)
TOLERANCE = 1e-4
Request = dict[str, Any]


def _request(image: bytes, prompt: str | list[str], threshold: float = 0.6) -> Request:
    text = {"classes": prompt} if isinstance(prompt, list) else {"caption": prompt}
    return {"image": image, **text, "box_threshold": threshold, "text_threshold": threshold, "normalized": True}


def _variant(data: bytes, transform: Callable[[Image.Image], Image.Image]) -> bytes:
    return encode(transform(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.fixture(
    scope="module",
    params=[
        "upstream",
        pytest.param("openvino", marks=pytest.mark.openvino),
        "grounding-dino",
        "mm-grounding-dino",
        pytest.param("upstream-cuda", marks=pytest.mark.cuda),
    ],
)
def any_pipeline(request: pytest.FixtureRequest, make_hf_pipeline) -> DetectionPipeline:
    """Each back end in turn: upstream and openvino on the full config, transformers on tiny folders
    of both model types, and upstream on cuda:0 at 800 px where CUDA is (marker ``cuda``)."""
    if request.param == "upstream":
        return request.getfixturevalue("full_pipeline")
    if request.param == "openvino":
        return request.getfixturevalue("full_openvino_pipeline")
    if request.param == "upstream-cuda":
        return request.getfixturevalue("cuda_full_pipeline")
    return make_hf_pipeline(request.param, resize_short=256, resize_max=384, warmup=False)


@pytest.fixture(scope="module")
def images(photos: dict[str, bytes]) -> dict[str, bytes]:
    """The sample photos plus two same-size variants of coffee.png (distinct pixels, one resized shape)."""
    coffee = photos["coffee.png"]
    return {
        **photos,
        "coffee-mirror": _variant(coffee, ImageOps.mirror),
        "coffee-flip": _variant(coffee, ImageOps.flip),
    }


def _difference(batched: dict[str, Any], alone: dict[str, Any]) -> float:
    for field in ("phrases", "labels", "class_ids", "image_size"):
        assert batched[field] == alone[field], field
    if not alone["boxes"]:
        return 0.0
    boxes = (torch.tensor(batched["boxes"]) - torch.tensor(alone["boxes"])).abs().max()
    scores = (torch.tensor(batched["scores"]) - torch.tensor(alone["scores"])).abs().max()
    return float(max(boxes, scores))


_SOLO: dict[tuple[HandlerSettings, str], dict[str, Any]] = {}


def _solo(pipeline: DetectionPipeline, request: Request) -> dict[str, Any]:
    """The request's answer alone, computed once per model and session (requests recur across tests)."""
    key = (pipeline.settings, hashlib.sha256(repr(sorted(request.items())).encode()).hexdigest())
    if key not in _SOLO:
        _SOLO[key] = answer_bodies(pipeline, [request])[0]
    return _SOLO[key]


def assert_each_answer_as_if_alone(
    pipeline: DetectionPipeline, requests: list[Request], name: str, record_property: Callable[[str, object], None]
) -> None:
    """Run ``requests`` as one batch and compare every member with its solo answer (the largest
    difference is recorded for the run's summary)."""
    batched = answer_bodies(pipeline, requests)
    solo = [_solo(pipeline, request) for request in requests]
    assert sum(bool(answer["boxes"]) for answer in solo) >= len(solo) - 1, "the cases must produce detections"
    differences = [_difference(b, s) for b, s in zip(batched, solo)]
    logger.info("%s: largest batched-vs-solo difference %.3g over %d requests", name, max(differences), len(requests))
    record_property(f"largest batched-vs-solo difference ({name})", max(differences))
    assert max(differences) <= TOLERANCE, differences


def test_different_images_of_one_size_with_different_captions(any_pipeline, images, record_property) -> None:
    requests = [
        _request(images["coffee.png"], "rocket ."),
        _request(images["coffee-mirror"], "bird . sky ."),
        _request(images["coffee-flip"], "cup . saucer . a silver spoon"),
        _request(images["coffee-mirror"], "plane ."),
    ]
    assert_each_answer_as_if_alone(any_pipeline, requests, "same size, different captions", record_property)


def test_one_image_with_several_captions(any_pipeline, images, record_property) -> None:
    captions = ["person .", "helmet . glove", "flag .", "a person in a white space suit . an american flag"]
    requests = [_request(images["astronaut.png"], caption) for caption in captions]
    assert_each_answer_as_if_alone(any_pipeline, requests, "one image, several captions", record_property)


def test_images_of_different_sizes(any_pipeline, images, record_property) -> None:
    names = ["astronaut.png", "chelsea.png", "rocket.jpg", "coffee.png", "motorcycle_left.png"]
    requests = [_request(images[name], "cat . rocket . cup . person") for name in names]
    assert_each_answer_as_if_alone(any_pipeline, requests, "different sizes, one caption", record_property)


def test_prompts_over_256_tokens(any_pipeline, images, record_property) -> None:
    requests = [
        _request(images["coffee.png"], NAMES_400[:120]),
        _request(images["coffee-mirror"], NAMES_400[100:220]),
        _request(images["coffee-flip"], "cup ."),
        _request(images["chelsea.png"], NAMES_400[:120]),
    ]
    assert all(len(any_pipeline.prepare(request).prompt.chunks) > 1 for request in requests[:2])
    assert_each_answer_as_if_alone(any_pipeline, requests, "prompts over 256 tokens", record_property)


def test_every_request_of_a_mixed_batch_in_either_order(any_pipeline, images, record_property) -> None:
    requests = [
        _request(images["coffee.png"], "rocket ."),
        _request(images["astronaut.png"], "person . flag"),
        _request(images["coffee-mirror"], NAMES_400[:120]),
        _request(images["coffee-flip"], "rocket ."),
        _request(images["astronaut.png"], "helmet ."),
        _request(images["rocket.jpg"], "rocket . smoke"),
    ]
    assert_each_answer_as_if_alone(any_pipeline, requests, "mixed batch", record_property)
    assert_each_answer_as_if_alone(any_pipeline, requests[::-1], "mixed batch, reversed", record_property)


def test_batched_calls_on_one_thread_equal_solo(any_pipeline, images, monkeypatch, record_property) -> None:
    """The plan of CUDA and one-thread CPU workers: shared backbone pass, calls of equal-length captions.

    One CPU thread makes the GEMMs' rounding independent of the batch size, so what is left to
    compare is what the fixes and the grouping decide: no batch-wide max, no mask mix-up, no padding.
    """
    monkeypatch.setattr(any_pipeline, "limits", CallLimits(max_images=8, max_captions=8))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        requests = [
            _request(images["coffee.png"], "rocket ."),
            _request(images["coffee-mirror"], "plane ."),
            _request(images["coffee-flip"], "bird . sky ."),
            _request(images["coffee.png"], "cup . saucer . a silver spoon"),
        ]
        _SOLO.clear()  # solo answers of this thread count
        assert_each_answer_as_if_alone(any_pipeline, requests, "CUDA plan at one thread", record_property)
    finally:
        torch.set_num_threads(threads)
        _SOLO.clear()


WATERMELON = "The picture contains watermelon, flower, and a white bottle."
PROMPT_MODES = [
    {"vocabulary": "coco"},
    {"vocabulary": "voc", "classes_per_chunk": 7},
    {"caption": WATERMELON, "entities": [[21, 31], [45, 59]]},
    {"caption": "a person in a white space suit", "referring": True, "max_detections": 1},
    {"classes": ["cup", "saucer"]},
]


def _prompt_modes(images: dict[str, bytes], threshold: float = 0.5) -> list[Request]:
    """One request per prompt mode, on images of one size and of others."""
    names = ["coffee.png", "coffee-mirror", "coffee-flip", "astronaut.png", "coffee.png"]
    common = {"box_threshold": threshold, "text_threshold": threshold, "normalized": True}
    return [{"image": images[name], **prompt, **common} for name, prompt in zip(names, PROMPT_MODES)]


def test_each_prompt_mode_batched_with_the_others_in_either_order(any_pipeline, images, record_property) -> None:
    requests = _prompt_modes(images)
    assert_each_answer_as_if_alone(any_pipeline, requests, "prompt modes", record_property)
    assert_each_answer_as_if_alone(any_pipeline, requests[::-1], "prompt modes, reversed", record_property)


def test_prompt_modes_in_batched_calls_on_one_thread_equal_solo(
    any_pipeline, images, monkeypatch, record_property
) -> None:
    """The CUDA plan: the modes' chunks of equal token length share model calls."""
    monkeypatch.setattr(any_pipeline, "limits", CallLimits(max_images=8, max_captions=8))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _SOLO.clear()
        assert_each_answer_as_if_alone(
            any_pipeline, _prompt_modes(images), "prompt modes at one thread", record_property
        )
    finally:
        torch.set_num_threads(threads)
        _SOLO.clear()
