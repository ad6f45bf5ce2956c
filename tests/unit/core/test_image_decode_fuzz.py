"""Property-based fuzzing: whatever a caller sends, parsing ends in a request or an InvalidInput.

Arbitrary JSON bodies, raw bodies, multipart fields and image bytes (random and mutated real
encodings) go through the TorchServe envelope, the request parser, the decoder and the prompt
builder (``DetectionPipeline.prepare``, no model call). Any other exception is a bug: in the
service it would be a 500. Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from handler.core.errors import InvalidInput
from handler.core.image_decode import decode_image
from handler.core.pipeline import PreparedRequest
from handler.core.request import KNOWN_FIELDS
from handler.frontends.torchserve.envelope import request_fields
from handler.testing import b64, encode

# Pillow warns about the corrupt TIFF tags it skips; the outcome is what is checked.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
SMALL = Image.new("RGB", (24, 16), (200, 30, 90))
VALID = {fmt: encode(SMALL, fmt) for fmt in FORMATS}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(sorted(KNOWN_FIELDS)) | st.text(max_size=12)


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or a real small encoding with some bytes changed, cut short or extended."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(VALID[draw(st.sampled_from(FORMATS))])
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))]) + draw(st.binary(max_size=20))


def image_field(draw: st.DrawFn) -> Any:
    return draw(st.one_of(image_bytes().map(b64), image_bytes(), st.just(b64(VALID["PNG"])), json_values))


@st.composite
def json_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON body: mostly an image and a caption or classes, plus arbitrary fields of any type."""
    body: dict[str, Any] = {"image": image_field(draw)} if draw(st.booleans()) else {}
    if draw(st.booleans()):
        body["caption"] = draw(st.text(max_size=60) | json_values)
    else:
        body["classes"] = draw(st.lists(st.text(max_size=20), max_size=5) | json_values)
    body.update(draw(st.dictionaries(field_names, json_values, max_size=4)))
    return body


@st.composite
def multipart_fields(draw: st.DrawFn) -> dict[str, bytes]:
    """Multipart form-data as TorchServe hands it over: one key per field, every value bytes."""
    fields = draw(
        st.dictionaries(field_names, st.binary(max_size=40) | st.text(max_size=40).map(str.encode), max_size=5)
    )
    if draw(st.booleans()):
        fields["image"] = draw(image_bytes())
    return fields


def prepare_or_invalid(pipeline: Any, raw: dict[str, Any]) -> None:
    """The only outcomes allowed: a prepared request, or an InvalidInput with a message."""
    try:
        assert isinstance(pipeline.prepare(request_fields(raw)), PreparedRequest)
    except InvalidInput as error:
        assert error.message.strip() and error.error_type


@FUZZ
@given(body=json_bodies())
def test_any_json_body_is_prepared_or_refused_with_a_message(pipeline, body):
    prepare_or_invalid(pipeline, {"body": body})


@FUZZ
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_raw_body_is_prepared_or_refused_with_a_message(pipeline, raw):
    prepare_or_invalid(pipeline, {"body": raw})


@FUZZ
@given(fields=multipart_fields())
def test_any_multipart_fields_are_prepared_or_refused_with_a_message(pipeline, fields):
    prepare_or_invalid(pipeline, fields)


@settings(FUZZ, max_examples=400)
@given(data=image_bytes())
def test_any_image_bytes_decode_to_rgb_or_are_refused_with_a_message(data):
    try:
        decoded = decode_image(data, max_pixels=4_000_000, target_size=lambda w, h: (w, h))
    except InvalidInput as error:
        assert error.message.strip() and error.error_type in ("InvalidImage", "ImageTooLarge")
    else:
        assert decoded.pixels.mode == "RGB" and decoded.pixels.size[0] * decoded.pixels.size[1] > 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_supported_format_decodes_when_intact(fmt):
    assert decode_image(VALID[fmt], max_pixels=1000).size == (24, 16)
