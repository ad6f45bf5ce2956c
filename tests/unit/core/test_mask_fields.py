"""The mask fields: defaults, JSON and multipart values, and a clear 400 naming the field for each mistake."""

from __future__ import annotations

import pytest

from handler.contract.errors import ErrorType, InvalidInput
from handler.core.request import parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.http.replies import reply
from handler.frontends.http.request_fields import request_fields
from tests.support.images import b64

pytestmark = pytest.mark.masks

PNG = b"\x89PNG\r\n\x1a\nfake"


def parse(settings: HandlerSettings = HandlerSettings(), **fields):
    return parse_request(request_fields({"body": {"image": b64(PNG), "caption": "cat", **fields}}), settings)


def refusal(settings: HandlerSettings = HandlerSettings(), **fields) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse(settings, **fields)
    assert reply(info.value).status == 400 and info.value.error_type == ErrorType.INVALID_PARAMETER
    return info.value


def test_masks_are_off_by_default_and_rle_at_probability_one_half_when_asked() -> None:
    assert not parse().masks
    request = parse(masks=True)
    assert (request.masks, request.mask_format, request.mask_threshold) == (True, "rle", 0.5)
    request = parse(masks=True, mask_format="Polygon", mask_threshold=0.8)
    assert (request.mask_format, request.mask_threshold) == ("polygon", 0.8)


def test_multipart_text_values_are_read() -> None:
    fields = {"image": PNG, "caption": b"cat", "masks": b"true", "mask_format": b"polygon", "mask_threshold": b"0.3"}
    request = parse_request(request_fields(fields), HandlerSettings())
    assert (request.masks, request.mask_format, request.mask_threshold) == (True, "polygon", 0.3)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"masks": "maybe"}, "'masks' must be true or false"),
        ({"masks": 2}, "'masks' must be true or false"),
        ({"masks": True, "mask_format": "png"}, "'mask_format' must be one of rle, polygon"),
        ({"masks": True, "mask_format": 3}, "'mask_format' must be a string"),
        ({"masks": True, "mask_threshold": "high"}, "'mask_threshold' must be a number"),
        ({"masks": True, "mask_threshold": 0}, "'mask_threshold' must lie strictly between 0 and 1"),
        ({"masks": True, "mask_threshold": 1.0}, "'mask_threshold' must lie strictly between 0 and 1"),
        ({"masks": True, "mask_threshold": 1.5}, "'mask_threshold' must be in [0, 1]"),
        ({"mask_format": "rle"}, "'mask_format' needs 'masks': true"),
        ({"masks": False, "mask_threshold": 0.4}, "'mask_threshold' needs 'masks': true"),
    ],
)
def test_each_bad_mask_field_is_a_400_naming_it(fields: dict, message: str) -> None:
    assert message in refusal(**fields).message


def test_more_boxes_than_the_mask_bound_are_refused_before_any_model_runs() -> None:
    assert parse(masks=True, max_detections=100).max_detections == 100
    error = refusal(masks=True, max_detections=101)
    assert "at most 100 boxes" in error.message and "'max_detections' is 101" in error.message
    assert "at most 7 boxes" in refusal(HandlerSettings(max_mask_boxes=7), masks=True).message
    assert parse(max_detections=500).max_detections == 500  # without masks the bound does not apply
