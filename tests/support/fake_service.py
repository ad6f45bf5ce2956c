"""A stand-in for the detection service on a free loopback port (stdlib ``http.server``).

It answers like the real one, deterministically: one box per requested class (at most three),
placed by the image's size, so format tests know exactly what to expect. ``script`` makes it
answer given error statuses first (e.g. [503, 503] then 200s); ``accept_classes=False`` makes
it an older server that refuses the ``classes`` field.
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

from PIL import Image, ImageOps

from gdino_client.http_serving import send_json


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
        if "classes" in body and not self.accept_classes:
            return 400, {"code": 400, "type": "UnknownField", "message": "unknown field(s): classes"}
        try:
            with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as image:
                image.load()
                width, height = ImageOps.exif_transpose(image).size
        except Exception:  # noqa: BLE001 - anything undecodable is the caller's fault here
            return 400, {"code": 400, "type": "InvalidImage", "message": "'image' is not a readable image"}
        if "classes" in body:
            response = fake_boxes(width, height, body["classes"])
            response["labels"] = list(response["phrases"])
            response["class_ids"] = list(range(len(response["boxes"])))
            return 200, response
        names = [part.strip() for part in body["caption"].split(".") if part.strip()]
        return 200, fake_boxes(width, height, names)


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
