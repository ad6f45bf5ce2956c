"""Random requests for the fuzz and soak runs: valid ones of mixed sizes and prompts, known-bad
ones, and hostile ones (arbitrary JSON, raw bytes, multipart fields, mangled image bytes).

Everything is drawn from a ``random.Random`` so a seed reproduces a run. :func:`send` posts one
request and returns its HTTP status (``0`` for a connection failure).
"""

from __future__ import annotations

import base64
import io
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from PIL import Image

WORDS = "cat dog person cup car tree sky rocket hat flag chair table bird boat plane road".split()
FIELDS = ("image", "caption", "classes", "box_threshold", "text_threshold", "nms_threshold", "max_detections")
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")


@dataclass(frozen=True)
class MixedRequest:
    """One request to post: a JSON body, raw bytes or multipart parts; ``kind`` names its family."""

    kind: str
    json_body: Any = None
    raw: bytes | None = None
    parts: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)
    content_type: str | None = "application/json"  # for ``json_body`` and ``raw``


def image_bytes(rng: random.Random, fmt: str | None = None, min_side: int = 16, max_side: int = 160) -> bytes:
    """A small image of random size (aspect ratio at most 3:1), colour and format.

    Thinner images are left out on purpose: at very small model input sizes a 1:10 image leaves
    the model fewer image positions than queries, a 400 (docs/operations.md), not a good request.
    """
    width = rng.randint(min_side, max_side)
    size = (width, rng.randint(max(min_side, width // 3), min(max_side, width * 3)))
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt or rng.choice(FORMATS))
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _caption(rng: random.Random) -> str:
    return " . ".join(rng.sample(WORDS, rng.randint(1, 6)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(10**12), 10**12),
        lambda: rng.uniform(-1e6, 1e6),
        lambda: "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 20))),
    ]
    if depth < 3:
        choices.append(lambda: [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))])
        choices.append(
            lambda: {rng.choice(FIELDS + ("x",)): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
        )
    return rng.choice(choices)()


def _mangled(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer[: rng.randint(1, len(buffer))])


def valid_request(rng: random.Random, max_side: int = 160) -> MixedRequest:
    """A request the service answers with 200: JSON or multipart, caption or classes."""
    image = image_bytes(rng, max_side=max_side)
    if rng.random() < 0.3:
        return MixedRequest("valid", parts={"image": ("x.img", image), "caption": (None, _caption(rng).encode())})
    prompt: dict[str, Any] = {"caption": _caption(rng)} if rng.random() < 0.6 else {"classes": rng.sample(WORDS, 3)}
    return MixedRequest("valid", json_body={"image": _b64(image), "box_threshold": rng.uniform(0.3, 0.9), **prompt})


def bad_request(rng: random.Random) -> MixedRequest:
    """A request the service must refuse with 400."""
    image = _b64(image_bytes(rng, max_side=48))
    body = rng.choice(
        [
            {"image": image},
            {"image": image, "caption": "   "},
            {"image": image, "caption": "cat", "box_threshold": 7},
            {"image": image, "classes": "cat, dog"},
            {"image": "@@not base64@@", "caption": "cat"},
            {"image": _b64(b"not an image at all"), "caption": "cat"},
            {"caption": "cat"},
            {"image": image, "caption": "cat", "colour": "red"},
        ]
    )
    return MixedRequest("bad", json_body=body)


def hostile_request(rng: random.Random) -> MixedRequest:
    """Arbitrary JSON, raw bytes, multipart fields or mangled image bytes: any answer but a 5xx."""
    family = rng.randrange(5)
    if family == 0:
        return MixedRequest("hostile-json", json_body=_json_value(rng))
    if family == 1:
        body = {name: _json_value(rng) for name in rng.sample(FIELDS, rng.randint(1, 4))}
        return MixedRequest("hostile-fields", json_body={"image": _b64(image_bytes(rng, max_side=32)), **body})
    if family == 2:
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        content_type = rng.choice(["application/json", "application/octet-stream", "text/plain", None])
        return MixedRequest("hostile-raw", raw=raw, content_type=content_type)
    if family == 3:
        parts = {
            rng.choice(FIELDS): (None, bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))) for _ in range(3)
        }
        return MixedRequest("hostile-multipart", parts=parts)
    image = _mangled(rng, image_bytes(rng, max_side=48))
    return MixedRequest("hostile-image", json_body={"image": _b64(image), "caption": _caption(rng)})


_local = threading.local()


def send(url: str, request: MixedRequest, timeout: float = 300.0, headers: dict[str, str] | None = None) -> int:
    """POST ``request`` to ``url`` on this thread's session; the HTTP status, or 0 when the connection failed."""
    session = getattr(_local, "session", None) or requests.Session()
    _local.session = session
    headers = dict(headers or {})
    if request.content_type and not request.parts:
        headers["Content-Type"] = request.content_type
    body = request.raw if request.raw is not None else json.dumps(request.json_body).encode()
    try:
        if request.parts:
            reply = session.post(url, files=request.parts, timeout=timeout, headers=headers)
        else:
            reply = session.post(url, data=body, timeout=timeout, headers=headers)
        return reply.status_code
    except requests.RequestException:
        return 0
