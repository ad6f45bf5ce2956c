"""What an HTTP front end sends back: detections as JSON, core errors as 400/507/500 with ``{code, type, message}``.

Rounding happens here, not in the core: pixel coordinates to 0.01 px, normalised ones and
scores to 1e-6. Masks go as the core encoded them (COCO RLE objects, or polygons whose vertices
lie on half pixels), with ``mask_scores``, when the request asked for them. Bodies are compact
JSON (a 100-box answer is a third of its pretty-printed size).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handler.contract.errors import DetectionError, InvalidInput, ModelOutOfMemory
from handler.core.detections import Detections

# 507 Insufficient Storage is what TorchServe itself answers when a worker runs out of memory.
STATUS = {InvalidInput: 400, ModelOutOfMemory: 507}  # anything else the core raises is the service's fault
SERVER_ERROR = 500


@dataclass(frozen=True)
class Reply:
    """One request's HTTP status and JSON body."""

    status: int
    body: dict[str, Any]

    def encoded(self) -> bytes:
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def detections_body(detections: Detections) -> dict[str, Any]:
    """The JSON answer for one image, highest score first."""
    digits = 6 if detections.normalized else 2
    body = {
        "boxes": [[round(float(v), digits) for v in box] for box in detections.boxes.tolist()],
        "scores": [round(float(score), 6) for score in detections.scores.tolist()],
        "phrases": list(detections.phrases),
        "labels": list(detections.labels),
        "class_ids": [int(class_id) for class_id in detections.class_ids.tolist()],
        "image_size": [int(detections.image_size[0]), int(detections.image_size[1])],
    }
    if detections.masks is not None and detections.mask_scores is not None:
        body["masks"] = list(detections.masks)
        body["mask_scores"] = [round(float(score), 6) for score in detections.mask_scores.tolist()]
    return body


def error_status(error: DetectionError) -> int:
    """400 for the caller's mistakes, 507 when the model ran out of memory, 500 for other failures of ours."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), SERVER_ERROR)


def reply(outcome: Detections | DetectionError) -> Reply:
    """The HTTP reply for one request's outcome."""
    if isinstance(outcome, DetectionError):
        code = error_status(outcome)
        return Reply(code, {"code": code, "type": outcome.error_type, "message": outcome.message})
    return Reply(200, detections_body(outcome))
