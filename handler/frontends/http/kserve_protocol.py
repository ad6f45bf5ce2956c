"""KServe's v1 and v2 inference protocols, read and answered per request inside TorchServe.

KServe's TorchServe runtime forwards a client's body unchanged to TorchServe's
``/v1/models/<name>:predict`` or ``/v2/models/<name>/infer``. This module turns such a body into
the flat fields of the default protocol (one mapping per image) and shapes the default answers
back into KServe's form:

- v1: ``{"instances": [{"image": {"b64": ...}, "caption": ...}, ...]}`` (the image as base64 text
  or TensorFlow Serving's ``{"b64": ...}``) is answered ``{"predictions": [answer, ...]}``, one
  default answer per instance; a request with any bad instance is answered 400 for that request.
- v2 (Open Inference Protocol): one image per request, every field a named tensor
  (``image`` and ``caption`` BYTES of shape [1], ``classes`` BYTES of shape [K], thresholds FP32
  of shape [1], ``masks`` BOOL [1]) or a request ``parameters`` entry; answered with one output
  tensor per answer field (``boxes`` FP32 [N, 4], ``scores`` FP32 [N], ``phrases``/``labels``
  BYTES [N], ``class_ids`` INT64 [N], ``image_size`` INT64 [2]; with masks, ``masks`` BYTES [N],
  each element one box's mask as JSON text, and ``mask_scores`` FP32 [N]).

Errors keep the default ``{code, type, message}`` body and add KServe's ``error`` key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handler.contract.errors import ErrorType, InvalidInput

V1_KEY = "instances"
V2_KEY = "inputs"
LIST_FIELDS = frozenset({"classes"})  # v2 tensors read as a list; every other tensor holds one value
V2_DATATYPES = {
    "boxes": "FP32",
    "scores": "FP32",
    "phrases": "BYTES",
    "labels": "BYTES",
    "class_ids": "INT64",
    "image_size": "INT64",
    "masks": "BYTES",  # one JSON text per box: its COCO RLE object or its polygons
    "mask_scores": "FP32",
}


@dataclass(frozen=True)
class ModelRef:
    """The served model's name and version, as v2 answers state them."""

    name: str
    version: str


@dataclass(frozen=True)
class KServeRequest:
    """One KServe request: its protocol, the fields of each of its images, and the v2 request id."""

    protocol: str  # "v1" or "v2"
    items: list[dict[str, Any]]
    request_id: str | None = None


def kserve_protocol(payload: Mapping[str, Any]) -> str | None:
    """``"v1"`` for an ``instances`` body, ``"v2"`` for an ``inputs`` body, else ``None``."""
    if V1_KEY in payload:
        return "v1"
    if V2_KEY in payload:
        return "v2"
    return None


def parse_kserve(payload: Mapping[str, Any]) -> KServeRequest:
    """The fields of each image of a v1 or v2 body (raises InvalidInput naming the problem)."""
    if kserve_protocol(payload) == "v1":
        return KServeRequest("v1", v1_items(payload))
    request_id = payload.get("id")
    return KServeRequest("v2", [v2_fields(payload)], str(request_id) if request_id is not None else None)


def _unwrap_b64(value: Any) -> Any:
    """TensorFlow Serving's binary convention ``{"b64": "..."}`` -> the base64 text."""
    if isinstance(value, Mapping) and set(value) == {"b64"}:
        return value["b64"]
    return value


def v1_items(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields of each v1 instance."""
    extra = sorted(set(payload) - {V1_KEY})
    if extra:
        raise InvalidInput(
            f'unknown v1 key(s): {", ".join(extra)}; send {{"instances": [...]}}', ErrorType.UNKNOWN_FIELD
        )
    instances = payload[V1_KEY]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of objects", ErrorType.INVALID_KSERVE_REQUEST)
    items = []
    for index, instance in enumerate(instances):
        if not isinstance(instance, Mapping):
            raise InvalidInput(
                f"instances[{index}] must be an object with 'image' and 'caption' or 'classes'",
                ErrorType.INVALID_KSERVE_REQUEST,
            )
        items.append({name: _unwrap_b64(value) if name == "image" else value for name, value in instance.items()})
    return items


def _flat(data: Any) -> list[Any]:
    """A v2 tensor's ``data``, flattened (the JSON form may nest it by shape)."""
    if not isinstance(data, list):
        return [data]
    return [value for element in data for value in _flat(element)]


def _tensor_value(tensor: Any, index: int) -> tuple[str, Any]:
    """One v2 input tensor as a field: its name and its value (a list for class lists)."""
    if not isinstance(tensor, Mapping) or not isinstance(tensor.get("name"), str) or "data" not in tensor:
        raise InvalidInput(
            f"inputs[{index}] must be a tensor with 'name', 'shape', 'datatype' and 'data'",
            ErrorType.INVALID_KSERVE_REQUEST,
        )
    name, data = tensor["name"], _flat(tensor["data"])
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise InvalidInput(f"input '{name}': 'shape' must be a list of sizes", ErrorType.INVALID_KSERVE_REQUEST)
    if math.prod(shape) != len(data):
        raise InvalidInput(
            f"input '{name}': shape {shape} does not match {len(data)} data element(s)",
            ErrorType.INVALID_KSERVE_REQUEST,
        )
    if name in LIST_FIELDS:
        return name, data
    if len(data) != 1:
        raise InvalidInput(
            f"input '{name}' must hold one element (shape [1]); a v2 request carries one image",
            ErrorType.INVALID_KSERVE_REQUEST,
        )
    return name, data[0]


def v2_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a v2 request: its input tensors and its ``parameters``."""
    inputs = payload[V2_KEY]
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors", ErrorType.INVALID_KSERVE_REQUEST)
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidInput("'parameters' must be an object", ErrorType.INVALID_KSERVE_REQUEST)
    fields: dict[str, Any] = dict(parameters)
    for index, tensor in enumerate(inputs):
        name, value = _tensor_value(tensor, index)
        if name in fields:
            raise InvalidInput(f"'{name}' is given twice (as inputs or parameters)", ErrorType.INVALID_KSERVE_REQUEST)
        fields[name] = value
    return fields


def v2_outputs(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One v2 output tensor per field of a default answer."""
    outputs = []
    for name, value in answer.items():
        rows = len(value)
        width = 4 if name == "boxes" else 0
        if name == "masks":
            data = [json.dumps(mask, separators=(",", ":")) for mask in value]
        else:
            data = [v for box in value for v in box] if width else list(value)
        outputs.append(
            {"name": name, "datatype": V2_DATATYPES[name], "shape": [rows, width] if width else [rows], "data": data}
        )
    return outputs


def kserve_answer(request: KServeRequest, answers: Sequence[Mapping[str, Any]], model: ModelRef) -> dict[str, Any]:
    """The KServe body for a request whose images were all answered (``answers`` in item order)."""
    if request.protocol == "v1":
        return {"predictions": list(answers)}
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.request_id is not None:
        body["id"] = request.request_id
    body["outputs"] = v2_outputs(answers[0])
    return body


def kserve_error(body: Mapping[str, Any], request: KServeRequest | None, item: int) -> dict[str, Any]:
    """A default error body with KServe's ``error`` key; v1 messages name the failing instance."""
    message = body["message"]
    if request is not None and request.protocol == "v1" and len(request.items) > 1:
        message = f"instances[{item}]: {message}"
    return {**body, "message": message, "error": message}
