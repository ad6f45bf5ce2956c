"""Request parsing and validation: every malformed request is a InvalidInput with a clear message."""

from __future__ import annotations

import json

import pytest

from handler.contract.errors import InvalidInput
from handler.core.request import normalize_caption, parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.http.replies import reply
from handler.frontends.http.request_fields import request_fields
from tests.support.images import b64

SETTINGS = HandlerSettings()
PNG = b"\x89PNG\r\n\x1a\nfake"


def parse(raw):
    return parse_request(request_fields(raw), SETTINGS)


def rejects(raw) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse(raw)
    return info.value


def test_json_body_gives_image_bytes_caption_and_default_thresholds():
    request = parse({"body": {"image": b64(PNG), "caption": "Cat . Remote Control"}})
    assert request.image == PNG
    assert request.caption == "cat . remote control."
    assert (request.box_threshold, request.text_threshold) == (0.35, 0.25)


def test_data_uri_prefix_is_accepted():
    assert parse({"body": {"image": "data:image/png;base64," + b64(PNG), "caption": "cat"}}).image == PNG


def test_json_body_as_bytes_is_parsed():
    body = json.dumps({"image": b64(PNG), "caption": "cat", "box_threshold": 0.5}).encode()
    assert parse({"body": body}).box_threshold == 0.5


def test_multipart_fields_arrive_as_bytes_and_are_decoded():
    request = parse({"image": PNG, "caption": b"dog", "box_threshold": b"0.4", "text_threshold": b"0.3"})
    assert (request.image, request.caption, request.box_threshold, request.text_threshold) == (PNG, "dog.", 0.4, 0.3)


def test_caption_threshold_is_an_alias_of_text_threshold():
    assert parse({"body": {"image": b64(PNG), "caption": "cat", "caption_threshold": 0.6}}).text_threshold == 0.6


def test_alias_and_name_together_are_rejected():
    error = rejects({"body": {"image": b64(PNG), "caption": "cat", "caption_threshold": 0.6, "text_threshold": 0.2}})
    assert "caption_threshold" in error.message


def test_caption_already_ending_with_dot_is_kept_lower_cased():
    assert normalize_caption("  A Dog. ") == "a dog."


@pytest.mark.parametrize("raw", [{}, {"body": b""}, {"body": {}}, {"body": b"   "}])
def test_empty_request_is_rejected(raw):
    assert rejects(raw).error_type == "EmptyRequest"


def test_body_that_is_not_json_is_rejected():
    error = rejects({"body": b"{not json"})
    assert error.error_type == "InvalidJSON" and "JSON" in error.message


def test_invalid_base64_is_rejected():
    error = rejects({"body": {"image": "@@not base64@@", "caption": "cat"}})
    assert error.error_type == "InvalidBase64" and "base64" in error.message


@pytest.mark.parametrize("caption", ["", "   ", " . . ", "..."])
def test_caption_empty_or_only_dots_is_rejected(caption):
    error = rejects({"body": {"image": b64(PNG), "caption": caption}})
    assert error.error_type == "InvalidCaption" and "caption" in error.message


def test_missing_caption_is_rejected():
    assert "'caption' or 'classes' is required" in rejects({"body": {"image": b64(PNG)}}).message


def test_missing_image_is_rejected():
    assert "'image' is required" in rejects({"body": {"caption": "cat"}}).message


def test_overlong_caption_is_rejected():
    error = rejects({"body": {"image": b64(PNG), "caption": "cat " * 2000}})
    assert "limit" in error.message


@pytest.mark.parametrize("value", ["high", None.__class__.__name__, [0.3], {"a": 1}, True])
def test_threshold_that_is_not_a_number_is_rejected(value):
    error = rejects({"body": {"image": b64(PNG), "caption": "cat", "box_threshold": value}})
    assert "'box_threshold' must be" in error.message


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), b"2"])
def test_threshold_outside_unit_interval_is_rejected(value):
    error = rejects({"body": {"image": b64(PNG), "caption": "cat", "text_threshold": value}})
    assert "text_threshold" in error.message


def test_unknown_fields_are_named():
    error = rejects({"body": {"image": b64(PNG), "caption": "cat", "treshold": 0.3, "foo": 1}})
    assert error.error_type == "UnknownField"
    assert "foo" in error.message and "treshold" in error.message


def test_error_body_has_code_type_and_message():
    body = reply(rejects({})).body
    assert body["code"] == 400 and body["type"] == "EmptyRequest" and body["message"]
