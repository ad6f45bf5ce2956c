"""End to end: a real .mar served by a real TorchServe on loopback, spoken to over HTTP."""

from __future__ import annotations

import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from PIL import Image

from tests.support.answers import assert_close
from tests.support.images import b64, encode

pytestmark = pytest.mark.integration  # starts a real TorchServe

THRESHOLDS = {"box_threshold": 0.7, "text_threshold": 0.7}


def predict_url(server) -> str:
    return f"{server.url}/predictions/groundingdino"


def post_json(server, body: Any) -> requests.Response:
    return requests.post(predict_url(server), json=body, timeout=300)


def huge_png_header() -> bytes:
    """A valid PNG header claiming 8000 x 6000 pixels (over the 40 MP default limit)."""
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    header = b"IHDR" + (8000).to_bytes(4, "big") + (6000).to_bytes(4, "big") + data[24:29]
    return data[:12] + header + zlib.crc32(header).to_bytes(4, "big") + data[33:]


def test_json_request_with_real_photo_is_answered_with_boxes_in_image_pixels(served_model, photos):
    reply = post_json(served_model, {"image": b64(photos["coffee.png"]), "caption": "cup . saucer", **THRESHOLDS})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["image_size"] == [600, 400]
    assert len(answer["boxes"]) == len(answer["scores"]) == len(answer["phrases"]) > 0
    assert answer["scores"] == sorted(answer["scores"], reverse=True)
    for x1, y1, x2, y2 in answer["boxes"]:
        assert 0 <= x1 <= x2 <= 600 and 0 <= y1 <= y2 <= 400
    assert all("[" not in phrase and "." not in phrase for phrase in answer["phrases"])


def test_multipart_upload_gives_the_same_answer_as_json(served_model, photos):
    image = photos["chelsea.png"]
    form = requests.post(
        predict_url(served_model),
        files={"image": ("cat.png", image, "image/png")},
        data={"caption": "cat", "box_threshold": "0.7", "text_threshold": "0.7"},
        timeout=300,
    )
    assert form.status_code == 200, form.text
    assert_close(form.json(), post_json(served_model, {"image": b64(image), "caption": "cat", **THRESHOLDS}).json())


def test_eight_concurrent_requests_are_batched_and_each_answer_equals_its_solo_answer(served_model, photos):
    names = list(photos)
    captions = [
        "person . rocket",
        "cup",
        "cat . whiskers",
        "rocket . smoke . sky",
        "motorcycle",
        "helmet . flag",
        "spoon . saucer . table",
        "ear",
    ]
    bodies = [{"image": b64(photos[names[i % len(names)]]), "caption": captions[i], **THRESHOLDS} for i in range(8)]
    alone = [post_json(served_model, body).json() for body in bodies]
    log = served_model.log_dir / "model_log.log"
    before = log.read_text(errors="replace")
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda body: post_json(served_model, body), bodies))
    assert all(reply.status_code == 200 for reply in together)
    for reply, solo in zip(together, alone):
        assert_close(reply.json(), solo)
    new_lines = log.read_text(errors="replace")[len(before) :]
    batch_sizes = [int(n) for n in re.findall(r"handling a batch of (\d+) request", new_lines)]
    assert max(batch_sizes) > 1, f"no dynamic batching happened: {batch_sizes}"
    assert sum(batch_sizes) == 8


BAD_REQUESTS = {
    "empty body": (None, "EmptyRequest", "empty"),
    "invalid base64": ({"image": "@@@", "caption": "cat"}, "InvalidBase64", "not valid base64"),
    "not an image": (
        {"image": b64(b"plain text, not pixels"), "caption": "cat"},
        "InvalidImage",
        "not a readable image",
    ),
    "truncated image": ("truncated", "InvalidImage", "truncated or corrupt"),
    "missing caption": ({"image": "photo"}, "MissingField", "'caption' or 'classes' is required"),
    "empty caption": ({"image": "photo", "caption": "  "}, "InvalidCaption", "'caption' is empty"),
    "only dots": ({"image": "photo", "caption": ". . ."}, "InvalidCaption", "only dots"),
    "threshold not a number": (
        {"image": "photo", "caption": "cat", "box_threshold": "high"},
        "InvalidParameter",
        "'box_threshold' must be a number",
    ),
    "threshold out of range": (
        {"image": "photo", "caption": "cat", "text_threshold": 1.5},
        "InvalidParameter",
        "'text_threshold' must be in [0, 1]",
    ),
    "unknown field": ({"image": "photo", "caption": "cat", "colour": "red"}, "UnknownField", "colour"),
    "over pixel limit": ("huge", "ImageTooLarge", "the limit is 40000000"),
}


def _bad_body(spec: Any, photo: bytes) -> Any:
    if spec == "truncated":
        return {"image": b64(photo[: len(photo) // 3]), "caption": "cat"}
    if spec == "huge":
        return {"image": b64(huge_png_header()), "caption": "cat"}
    if isinstance(spec, dict) and spec.get("image") == "photo":
        return {**spec, "image": b64(photo)}
    return spec


def _send(server, body: Any) -> requests.Response:
    if body is None:
        return requests.post(predict_url(server), data=b"", headers={"Content-Type": "application/json"}, timeout=300)
    return post_json(server, body)


def test_each_bad_request_gets_400_with_its_message_while_batch_mates_succeed(served_model, photos):
    photo = photos["astronaut.png"]
    good = {"image": b64(photos["coffee.png"]), "caption": "cup", **THRESHOLDS}
    cases = list(BAD_REQUESTS.items())
    bodies = [good] + [_bad_body(spec, photo) for _, (spec, _, _) in cases] + [good]
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        replies = list(pool.map(lambda body: _send(served_model, body), bodies))
    assert replies[0].status_code == replies[-1].status_code == 200
    assert replies[0].json()["boxes"]
    for (name, (_, error_type, fragment)), reply in zip(cases, replies[1:-1]):
        assert reply.status_code == 400, f"{name}: {reply.status_code} {reply.text}"
        body = reply.json()
        assert body["code"] == 400 and body["type"] == error_type, f"{name}: {body}"
        assert fragment in body["message"], f"{name}: {body['message']}"


def test_server_is_healthy_after_bad_requests(served_model):
    post_json(served_model, {"image": "@@@", "caption": "cat"})
    assert requests.get(f"{served_model.url}/ping", timeout=10).json()["status"] == "Healthy"
    model = requests.get(f"{served_model.management_url}/models/groundingdino", timeout=10).json()[0]
    assert model["batchSize"] == 8
    assert all(worker["status"] == "READY" for worker in model["workers"])


def test_data_uri_image_is_accepted_over_http(served_model, photos):
    uri = "data:image/jpeg;base64," + b64(photos["rocket.jpg"])
    reply = post_json(served_model, {"image": uri, "caption": "rocket", **THRESHOLDS})
    assert reply.status_code == 200 and reply.json()["image_size"] == [640, 427]
