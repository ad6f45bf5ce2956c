"""The held requests: a fixed set that covers the whole API, replayed against servers to compare their answers.

JSON and multipart bodies, class lists, a prompt over 256 tokens, every output option, KServe v1
and v2, and one request of each 400 kind. ``compare_served_answers`` replays them against two
revisions; the Ray Serve tests against Ray Serve and TorchServe (same model, byte for byte).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import requests
from PIL import Image

from gdino_serve.tools.sample_photos import photo_bytes
from handler.contract import defaults


@dataclass(frozen=True)
class HeldRequest:
    """One request to replay: a name, the path under the server, and a JSON body or multipart fields."""

    name: str
    path: str
    json: Any = None
    files: dict[str, Any] | None = None
    data: bytes | None = None


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def held_requests() -> list[HeldRequest]:
    """The requests both trees answer: every field and protocol the API has, and each 400 kind."""
    model = defaults.MODEL_NAME
    predict = f"/predictions/{model}"
    coffee, cat = photo_bytes("coffee.png"), photo_bytes("chelsea.png")
    b64 = base64.b64encode(coffee).decode()
    many = [f"object {index} thing" for index in range(120)]  # over 256 tokens: several chunks
    return [
        HeldRequest("json caption", predict, {"image": b64, "caption": "a cup . a spoon . a table"}),
        HeldRequest("json classes", predict, {"image": b64, "classes": ["Cup", "saucer", "wooden table"]}),
        HeldRequest(
            "json options",
            predict,
            {
                "image": b64,
                "caption": "cup . spoon",
                "box_threshold": 0.2,
                "text_threshold": 0.2,
                "nms_threshold": 0.5,
                "class_agnostic_nms": True,
                "max_detections": 7,
                "box_format": "cxcywh",
                "normalized": True,
            },
        ),
        HeldRequest("long class list", predict, {"image": b64, "classes": many, "box_threshold": 0.3}),
        HeldRequest("multipart caption", predict, files={"image": ("cat.png", cat), "caption": (None, "cat . ear")}),
        HeldRequest(
            "multipart classes",
            predict,
            files={"image": ("cat.png", cat), "classes": (None, "cat\near\n"), "box_format": (None, "xywh")},
        ),
        HeldRequest(
            "kserve v1",
            f"/v1/models/{model}:predict",
            {"instances": [{"image": {"b64": b64}, "caption": "cup"}, {"image": b64, "classes": ["spoon"]}]},
        ),
        HeldRequest(
            "kserve v2",
            f"/v2/models/{model}/infer",
            {
                "id": "held-1",
                "inputs": [
                    {"name": "image", "shape": [1], "datatype": "BYTES", "data": [b64]},
                    {"name": "classes", "shape": [2], "datatype": "BYTES", "data": ["cup", "saucer"]},
                ],
            },
        ),
        HeldRequest("400 bad base64", predict, {"image": "not base64!", "caption": "cup"}),
        HeldRequest("400 unknown field", predict, {"image": b64, "caption": "cup", "colour": "red"}),
        HeldRequest("400 missing image", predict, {"caption": "cup"}),
        HeldRequest("400 empty object", predict, {}),
        HeldRequest("400 not json", predict, data=b"{not json"),
        HeldRequest("400 duplicate class", predict, {"image": b64, "classes": ["cup", "Cup"]}),
        HeldRequest(
            "400 thin image", predict, {"image": base64.b64encode(_png((4000, 20), (9, 9, 9))).decode(), "caption": "x"}
        ),
        HeldRequest("400 bad threshold", predict, {"image": b64, "caption": "cup", "box_threshold": 2}),
    ]


def send(url: str, request: HeldRequest) -> tuple[int, bytes]:
    """The status and body bytes of one held request."""
    headers = {"Content-Type": "application/json"} if request.data is not None else None
    reply = requests.post(
        url + request.path, json=request.json, files=request.files, data=request.data, headers=headers, timeout=300
    )
    return reply.status_code, reply.content
