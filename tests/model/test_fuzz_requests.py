"""Property-based fuzzing: whatever a caller sends, parsing ends in a request or an InvalidInput.

Arbitrary JSON bodies, raw bodies, multipart fields and image bytes (random and mutated real
encodings) go through the TorchServe envelope, the request parser, the decoder and the prompt
builder (``DetectionPipeline.prepare``, no model call). Any other exception is a bug: in the
service it would be a 500 (its image-decoding half also runs without a model:
``tests/unit/core/test_image_decode_fuzz.py``). Derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handler.contract.errors import InvalidInput
from handler.core.pipeline import PreparedRequest
from handler.frontends.http.request_fields import request_fields
from tests.support.fuzz_inputs import FUZZ, VALID, field_names, image_bytes, json_values
from tests.support.images import b64

# Pillow warns about the corrupt TIFF tags it skips; the outcome is what is checked.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")


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
