"""TorchServe's request envelope: one request's fields, whether sent as JSON or multipart.

TorchServe hands a JSON body over as ``{"body": dict}`` (or raw bytes under ``body``/``data``)
and multipart form-data as one key per field, values as bytes. Both become the same flat
mapping of fields that :func:`handler.core.request.parse_request` reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handler.contract.errors import ErrorType, InvalidInput


def request_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields, whether the body was JSON or multipart form-data."""
    if not raw:
        raise InvalidInput(
            "empty request: send JSON or multipart form-data with 'image' and 'caption'", ErrorType.EMPTY_REQUEST
        )
    payload: Any = raw.get("body", raw.get("data")) if ("body" in raw or "data" in raw) and len(raw) == 1 else raw
    if isinstance(payload, (bytes, bytearray)):
        if not payload.strip():
            raise InvalidInput("empty request body: send JSON with 'image' and 'caption'", ErrorType.EMPTY_REQUEST)
        try:
            payload = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(
                f"request body is not valid JSON ({exc}); send JSON or multipart form-data", ErrorType.INVALID_JSON
            ) from None
    if not isinstance(payload, dict):
        raise InvalidInput("request body must be a JSON object with 'image' and 'caption'", ErrorType.INVALID_JSON)
    if not payload:
        raise InvalidInput("empty request: 'image' and 'caption' are required", ErrorType.EMPTY_REQUEST)
    return dict(payload)
