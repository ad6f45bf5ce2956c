"""The Gateway deployment: TorchServe's HTTP API in front of the Detector deployment.

Routes: ``POST /predictions/<model>`` (JSON or multipart), the KServe paths
``POST /v1/models/<model>:predict`` and ``POST /v2/models/<model>/infer``, and the health routes
``GET /ping``, ``/v2/health/ready``, ``/v1/models/<model>``, ``/v2/models/<model>/ready`` (200 once
a Detector replica answers, else 503) and ``/v2/health/live`` (200 while the gateway runs). A body goes to the Detector as TorchServe's envelope (JSON as
``{"body": bytes}``, form fields as ``{name: bytes}``), and its answer comes back byte for byte.

Why two deployments: when a replica dies mid-request (its process or its node), Ray Serve's HTTP
proxy would answer a bare text 500. Through a handle the gateway sees the Ray error instead,
tries once more on another replica (detection is idempotent), and otherwise answers 503 JSON
(``ServiceUnavailable``) with ``Retry-After``, which clients retry. No torch here: gateways stay small.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request
from starlette.responses import Response

from handler.contract import defaults
from handler.contract.errors import ErrorType

logger = logging.getLogger("ray.serve")

# ActorDiedError / ActorUnavailableError (a replica or its node died), a full queue, no replica yet.
RETRYABLE = (RayActorError, BackPressureError, DeploymentUnavailableError)
ERROR_STATUS = {
    ErrorType.NOT_FOUND: 404,
    ErrorType.REQUEST_TOO_LARGE: 413,
    ErrorType.SERVICE_UNAVAILABLE: 503,
    ErrorType.INTERNAL_SERVER_ERROR: 500,
}
RETRY_AFTER_S = 1
READY_TIMEOUT_S = 10.0
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
ROUTES = [  # (method, path pattern, action); ':' is an ordinary character to a regex
    ("POST", re.compile(r"/predictions/(?P<model>[^/]+)"), "predict"),
    ("POST", re.compile(r"/v1/models/(?P<model>[^/:]+):predict"), "predict"),
    ("POST", re.compile(r"/v2/models/(?P<model>[^/]+)/infer"), "predict"),
    ("GET", re.compile(r"/ping"), "ping"),
    ("GET", re.compile(r"/v2/health/live"), "live"),
    ("GET", re.compile(r"/v2/health/ready"), "ready"),
    ("GET", re.compile(r"/v1/models/(?P<model>[^/:]+)"), "model_ready"),
    ("GET", re.compile(r"/v2/models/(?P<model>[^/]+)/ready"), "model_ready"),
]


def json_response(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, headers, media_type="application/json")


def error_response(kind: ErrorType, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The gateway's own errors, in the service's ``{code, type, message}`` shape."""
    status = ERROR_STATUS[kind]
    return json_response({"code": status, "type": kind, "message": message}, status, headers)


def route(method: str, path: str, model_name: str) -> tuple[str | None, str]:
    """``(action, "")`` for a served route, else ``(None, why)``: no such route, or another model's name."""
    for wanted, pattern, action in ROUTES:
        match = pattern.fullmatch(path)
        if match and method == wanted:
            model = match.groupdict().get("model")
            if model is not None and model != model_name:
                return None, f"Model not found: {model} (this server serves {model_name})"
            return action, ""
    return None, f"no route {method} {path}"


def too_large(size: int) -> Response:
    message = f"request body of {size} bytes; the limit is {defaults.MAX_REQUEST_BYTES} bytes"
    return error_response(ErrorType.REQUEST_TOO_LARGE, message)


async def envelope(request: Request) -> dict[str, Any]:
    """The request as TorchServe hands it to a handler: form fields as bytes, any other body under ``body``."""
    if (request.headers.get("content-type") or "").startswith(FORM_TYPES):
        form = await request.form()
        fields = {}
        for name, value in form.multi_items():
            fields[name] = await value.read() if hasattr(value, "read") else value.encode("utf-8")
        return fields
    return {"body": await request.body()}


@serve.deployment(name="Gateway", max_ongoing_requests=256, ray_actor_options={"num_cpus": 0})
class Gateway:
    """Routes each HTTP request; see the module docstring."""

    def __init__(self, detector: DeploymentHandle, model_name: str = defaults.MODEL_NAME, retries: int = 1) -> None:
        self.detector = detector
        self.model_name = model_name
        self.retries = retries

    async def __call__(self, request: Request) -> Response:
        action, why = route(request.method, request.url.path, self.model_name)
        if action is None:
            return error_response(ErrorType.NOT_FOUND, why)
        if action == "predict":
            declared = int(request.headers.get("content-length") or 0)
            if declared > defaults.MAX_REQUEST_BYTES:  # refused before the body is read
                return too_large(declared)
            raw = await envelope(request)
            size = sum(len(value) for value in raw.values())
            return too_large(size) if size > defaults.MAX_REQUEST_BYTES else await self.predict(raw)
        if action == "live":  # the server runs; whether it can answer yet is readiness
            return json_response({"live": True})
        if not await self.detector_ready():
            return json_response({"status": "Unhealthy"}, 503, {"Retry-After": str(RETRY_AFTER_S)})
        if action == "ping":
            return json_response({"status": "Healthy"})
        if action == "ready":
            return json_response({"ready": True})
        return json_response({"name": self.model_name, "ready": True})

    async def detector_ready(self) -> bool:
        """Whether a Detector replica answers within :data:`READY_TIMEOUT_S` (its model is loaded)."""
        try:
            return await asyncio.wait_for(self.detector.ready.remote(), READY_TIMEOUT_S)
        except (TimeoutError, *RETRYABLE):
            return False

    async def predict(self, raw: dict[str, Any]) -> Response:
        """The Detector's answer; a replica that dies under the request gets one more try elsewhere, then 503."""
        for attempt in range(self.retries + 1):
            try:
                status, body, replica, node = await self.detector.answer.remote(raw)
            except RETRYABLE as error:
                logger.warning("attempt %d of %d failed: %s", attempt + 1, self.retries + 1, error)
                failure = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
                continue
            except Exception:  # a fault of ours, not of the replica's process: no second try
                logger.exception("the detector failed on a request")
                return error_response(
                    ErrorType.INTERNAL_SERVER_ERROR, "internal error while handling this request; see the server log"
                )
            headers = {"X-Replica": replica, "X-Node": node}
            return Response(body, status, headers, media_type="application/json")
        return error_response(
            ErrorType.SERVICE_UNAVAILABLE,
            f"no replica could answer ({failure}); retry in a moment",
            {"Retry-After": str(RETRY_AFTER_S)},
        )
