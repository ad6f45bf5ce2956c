"""HTTP client of the detection endpoint: one image per request, retried while the failure is
transient (503, 507, connection errors, answers cut short, timeouts), failed at once otherwise."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from gdino_client.retry import RetryPolicy
from handler.contract import defaults

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class RequestFailed(Exception):
    """The request got no answer worth keeping; ``reason`` says why, for the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerRefused(RequestFailed):
    """The server answered with an error that a retry would not change (e.g. 400)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"HTTP {status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type


def read_token_file(path: Path) -> str:
    """The inference key from TorchServe's ``key_file.json``, or a plain file holding the token."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        keys = json.loads(text)
    except json.JSONDecodeError:
        return text
    return str(keys["inference"]["key"]) if isinstance(keys, dict) and "inference" in keys else text


def _error_of(reply: requests.Response) -> tuple[str, str]:
    """(type, message) of an error reply in TorchServe's JSON shape, or its raw text."""
    try:
        body = reply.json()
    except ValueError:
        return "HTTPError", reply.text.strip()[:200]
    if isinstance(body, dict):
        return str(body.get("type", "HTTPError")), str(body.get("message", body))[:300]
    return "HTTPError", str(body)[:200]


def _retry_after(reply: requests.Response) -> float | None:
    try:
        return float(reply.headers.get("Retry-After", ""))
    except ValueError:
        return None


class DetectionClient:
    """Posts images to ``{url}/predictions/{model}``; safe to share between threads."""

    def __init__(
        self,
        url: str,
        model: str = defaults.MODEL_NAME,
        token: str | None = None,
        timeout: float = defaults.CLIENT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/predictions/{model}"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def detect(self, image: bytes, fields: dict[str, Any]) -> dict[str, Any]:
        """The service's answer for ``image`` with the request ``fields`` (caption or classes, thresholds)."""
        body = {"image": base64.b64encode(image).decode("ascii"), **fields}
        reason = ""
        retry_after: float | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(self.retry.delay(attempt - 1, retry_after))
                retry_after = None
            try:
                reply = self._session().post(self.endpoint, json=body, headers=self.headers, timeout=self.timeout)
            except TRANSIENT_ERRORS as exc:
                reason = f"{type(exc).__name__}: {exc}"
                logger.debug("attempt %d: %s", attempt + 1, reason)
                continue
            except requests.RequestException as exc:  # a bad URL, too many redirects: no retry helps
                raise RequestFailed(f"{type(exc).__name__}: {exc}") from None
            if reply.status_code == 200:
                try:
                    return reply.json()
                except ValueError:
                    raise RequestFailed(f"HTTP 200 with a body that is not JSON: {reply.text[:200]!r}") from None
            error_type, message = _error_of(reply)
            if reply.status_code not in self.retry.statuses:
                raise ServerRefused(reply.status_code, error_type, message)
            reason = f"HTTP {reply.status_code} {error_type}: {message}"
            retry_after = _retry_after(reply)
            logger.debug("attempt %d: %s", attempt + 1, reason)
        raise RequestFailed(f"gave up after {self.retry.attempts} attempts; last: {reason}")
