"""Images too thin for the model's query selection are refused as the client's input, exactly at the limit.

A two-stage model picks its queries among the encoder's image positions; an image that leaves fewer
positions than queries made the model's top-k fail (a 500). The check counts the positions from
the back end's feature strides: the thinnest image it lets through is answered, and the next
thinner one, which it refuses with a 400 message, really does make the model fail.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from handler.contract.errors import InvalidInput
from handler.core.image_positions import image_positions
from handler.core.pipeline import DetectionPipeline
from tests.support.images import encode

SMALL_RESIZE = {"resize_short": 64, "resize_max": 96, "warmup": False}  # so the tiny models' 100 queries bind
WIDE = 1000  # image width; the height is searched for the limit


@pytest.fixture(scope="module", params=["upstream", "grounding-dino", "mm-grounding-dino"])
def small_pipeline(request: pytest.FixtureRequest, make_pipeline, make_hf_pipeline) -> DetectionPipeline:
    """Each back end's tiny model (100 queries) with a small resize, so thin images reach the limit."""
    if request.param == "upstream":
        return make_pipeline(**SMALL_RESIZE)
    return make_hf_pipeline(request.param, **SMALL_RESIZE)


def _limit_heights(pipeline: DetectionPipeline) -> tuple[int, int]:
    """(thinnest height of a WIDE image the check allows, the next thinner one), searched upwards."""
    detector = pipeline.detector
    for height in range(2, WIDE):
        model_size = pipeline.resize.output_size(WIDE, height)
        if image_positions(*model_size, detector.feature_strides) >= detector.num_queries:
            return height, height - 1
    raise AssertionError("no height reaches the model's queries")


def _request(height: int) -> dict[str, object]:
    return {"image": encode(Image.new("RGB", (WIDE, height), (90, 120, 150))), "caption": "pipe ."}


def test_thinnest_allowed_image_is_answered_and_the_next_is_refused(small_pipeline: DetectionPipeline) -> None:
    allowed, refused = _limit_heights(small_pipeline)
    answered, refusal = small_pipeline.run([_request(allowed), _request(refused)])
    assert not isinstance(answered, Exception), answered
    assert isinstance(refusal, InvalidInput) and refusal.error_type == "ImageTooThin"
    assert "too thin for this model" in refusal.message


def test_refused_image_really_fails_in_the_model(small_pipeline: DetectionPipeline) -> None:
    """Without the check, the refused size makes the model's query selection fail: the limit is exact."""
    _, refused = _limit_heights(small_pipeline)
    width, height = small_pipeline.resize.output_size(WIDE, refused)
    detector = small_pipeline.detector
    with pytest.raises(RuntimeError, match="out of range"):
        encoded = detector.encode_images(torch.zeros(1, 3, height, width))
        detector.decode(encoded, [0], ["pipe ."])


def test_thin_image_is_refused_before_the_model_call(small_pipeline: DetectionPipeline, monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(small_pipeline.detector, "encode_images", lambda images: calls.append(len(images)))
    small_pipeline.run([_request(_limit_heights(small_pipeline)[1])])
    assert calls == []
