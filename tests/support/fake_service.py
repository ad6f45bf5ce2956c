"""A stand-in for the detection service on a free loopback port (stdlib ``http.server``).

It answers like the real one, deterministically: one box per requested class (at most three),
placed by the image's size, so format tests know exactly what to expect; asked for masks, each
box's mask is the ellipse inscribed in it (:func:`fake_mask`), in the asked format. ``script`` makes it
answer given error statuses first (e.g. [503, 503] then 200s); ``accept_classes=False`` makes
it an older server that refuses the ``classes`` field (``accept_vocabulary=False``: the
``vocabulary`` field); ``masks_available=False`` one served without a mask model. A vocabulary is
answered with its *last* three classes, so class ids and dataset ids differ from the first positions.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from gdino_client.http_serving import send_json
from handler.contract.mask_codec import encode_rle, polygons
from handler.contract.vocabulary import load_vocabulary


def fake_mask(box: list[float], width: int, height: int) -> np.ndarray:
    """The ellipse inscribed in ``box`` (pixel centres inside it), at the image's size."""
    x1, y1, x2, y2 = box
    columns, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return ((columns - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2 + ((rows - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 < 1


def with_masks(response: dict[str, Any], mask_format: str) -> dict[str, Any]:
    """``response`` with each box's fake mask in ``mask_format`` and a mask score."""
    width, height = response["image_size"]
    masks = [fake_mask(box, width, height) for box in response["boxes"]]
    encoded = [encode_rle(mask) if mask_format == "rle" else polygons(mask) for mask in masks]
    return {**response, "masks": encoded, "mask_scores": [0.75] * len(masks)}


def fake_boxes(width: int, height: int, names: list[str]) -> dict[str, Any]:
    """The answer for an image of ``width`` x ``height`` asked for ``names``."""
    boxes, scores = [], []
    for i, _ in enumerate(names[:3]):
        boxes.append(
            [
                round(width * (0.1 + 0.1 * i), 2),
                round(height * 0.2, 2),
                round(width * (0.5 + 0.1 * i), 2),
                round(height * 0.9, 2),
            ]
        )
        scores.append(round(0.9 - 0.1 * i, 4))
    return {"boxes": boxes, "scores": scores, "phrases": list(names[:3]), "image_size": [width, height]}


@dataclass
class FakeService:
    script: list[int] = field(default_factory=list)  # statuses to answer, in order, before any 200
    accept_classes: bool = True
    masks_available: bool = True
    accept_vocabulary: bool = True
    delay: float = 0.0  # seconds per answer
    token: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
        time.sleep(self.delay)
        with self.lock:
            self.requests.append(body)
            if self.script:
                status = self.script.pop(0)
                return status, {"code": status, "type": "ServiceUnavailable", "message": "scripted"}
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "type": "Unauthorized", "message": "token required"}
        for name, accepted in (("classes", self.accept_classes), ("vocabulary", self.accept_vocabulary)):
            if name in body and not accepted:
                return 400, {"code": 400, "type": "UnknownField", "message": f"unknown field(s): {name}"}
        if body.get("masks") and not self.masks_available:
            message = "'masks': this model is served without a mask model (serve it with --mask-model)"
            return 400, {"code": 400, "type": "InvalidParameter", "message": message}
        try:
            with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as image:
                image.load()
                width, height = ImageOps.exif_transpose(image).size
        except Exception:  # noqa: BLE001 - anything undecodable is the caller's fault here
            return 400, {"code": 400, "type": "InvalidImage", "message": "'image' is not a readable image"}
        if "vocabulary" in body:
            names = load_vocabulary(body["vocabulary"]).labels
            response = fake_boxes(width, height, list(names[-3:]))
            response["labels"] = list(response["phrases"])
            response["class_ids"] = list(range(len(names) - 3, len(names)))
            return 200, response
        if "classes" in body:
            response = fake_boxes(width, height, body["classes"])
            response["labels"] = list(response["phrases"])
            response["class_ids"] = list(range(len(response["boxes"])))
        else:
            names = [part.strip() for part in body["caption"].split(".") if part.strip()]
            response = fake_boxes(width, height, names)
        return 200, with_masks(response, body.get("mask_format", "rle")) if body.get("masks") else response


class _Handler(BaseHTTPRequestHandler):
    service: FakeService

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        status, body = self.server.service.answer(json.loads(self.rfile.read(length)), self.headers)  # type: ignore[attr-defined]
        send_json(self, status, body)

    def log_message(self, *args: Any) -> None:
        pass


class FakeServer:
    """Serves ``service`` on 127.0.0.1 in a thread; ``url`` is its inference address."""

    def __init__(self, service: FakeService) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.service = service  # type: ignore[attr-defined]
        self.service = service
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=partial(self.httpd.serve_forever, poll_interval=0.05), daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
