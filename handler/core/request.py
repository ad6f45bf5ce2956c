"""Stage 1: turn one request's fields into a validated :class:`DetectionRequest`.

Fields arrive as a flat mapping, whatever the protocol: JSON values, or text and file parts as
bytes (multipart form-data). Unwrapping a protocol's envelope is the front end's job.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handler.contract import defaults
from handler.contract.class_names import classes_caption, parse_classes
from handler.contract.errors import ErrorType, InvalidInput
from handler.contract.mask_codec import MASK_FORMATS
from handler.contract.vocabulary import load_vocabulary
from handler.core.box_format import BOX_FORMATS
from handler.core.entities import EntitySpans, check_spans, entity_label, parse_entities, whole_caption
from handler.core.settings import HandlerSettings

IMAGE_FIELD = "image"
TEXT_FIELDS = ("caption", "classes", "vocabulary")  # what to detect: exactly one of them
PROMPT_OPTIONS = ("classes_per_chunk", "entities", "referring")
THRESHOLD_FIELDS = ("box_threshold", "text_threshold")
OUTPUT_FIELDS = ("nms_threshold", "class_agnostic_nms", "max_detections", "box_format", "normalized")
MASK_FIELDS = ("masks", "mask_format", "mask_threshold")
ALIASES = {"caption_threshold": "text_threshold"}
KNOWN_FIELDS = frozenset(
    (IMAGE_FIELD, *TEXT_FIELDS, *PROMPT_OPTIONS, *THRESHOLD_FIELDS, *OUTPUT_FIELDS, *MASK_FIELDS, *ALIASES)
)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")

_DATA_URI = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class DetectionRequest:
    """One validated request: encoded image bytes, normalised caption, thresholds and output options.

    ``classes`` labels the caption's classes when the caption was built from a class list or a
    vocabulary, or holds the entities' text (``None`` for a plain caption). ``entities`` are the
    character spans of each entity in ``caption`` (entities or referring mode, else ``None``).
    """

    image: bytes
    caption: str
    box_threshold: float
    text_threshold: float
    classes: tuple[str, ...] | None = None
    entities: tuple[EntitySpans, ...] | None = None
    classes_per_chunk: int | None = None
    nms_threshold: float | None = None
    class_agnostic_nms: bool = False
    max_detections: int = defaults.MAX_DETECTIONS
    box_format: str = "xyxy"
    normalized: bool = False
    masks: bool = False  # one mask per returned box (the served model needs a mask model)
    mask_format: str = defaults.MASK_FORMAT
    mask_threshold: float = defaults.MASK_THRESHOLD


def normalize_caption(caption: str) -> str:
    """Lower-case and end with '.', as the upstream reference ``preprocess_caption``."""
    caption = caption.lower().strip()
    return caption if caption.endswith(".") else caption + "."


def offsets_caption(caption: str) -> str:
    """Lower case and a closing '.', every character kept where it was (entity spans index it)."""
    lowered = "".join(char.lower() if len(char.lower()) == 1 else char for char in caption)
    return lowered if lowered.rstrip().endswith(".") else lowered + "."


def _text(name: str, value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"'{name}' must be UTF-8 text", ErrorType.INVALID_PARAMETER) from None
    if isinstance(value, str):
        return value
    raise InvalidInput(f"'{name}' must be a string, got {type(value).__name__}", ErrorType.INVALID_PARAMETER)


def decode_image_field(value: Any) -> bytes:
    """Image bytes from a multipart file part, or from base64 text (data-URI prefix allowed)."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        if not data:
            raise InvalidInput("'image' is empty", ErrorType.INVALID_IMAGE)
        if data[:5].lower() == b"data:" or _looks_like_base64(data):
            try:
                return decode_image_field(data.decode("ascii"))
            except (InvalidInput, UnicodeDecodeError):
                pass  # not base64 after all: treat as the file's own bytes
        return data
    if not isinstance(value, str):
        raise InvalidInput(
            f"'image' must be base64 text or a file part, got {type(value).__name__}", ErrorType.INVALID_IMAGE
        )
    text = _DATA_URI.sub("", value.strip(), count=1)
    if not text:
        raise InvalidInput("'image' is empty", ErrorType.INVALID_IMAGE)
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("'image' is not valid base64", ErrorType.INVALID_BASE64) from None
    if not data:
        raise InvalidInput("'image' is empty after base64 decoding", ErrorType.INVALID_IMAGE)
    return data


def _looks_like_base64(data: bytes) -> bool:
    """Multipart clients sometimes send the base64 text as a plain form field."""
    head = data[:64]
    return bool(head) and re.fullmatch(rb"[A-Za-z0-9+/=\s]+", head) is not None


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be a number in [0, 1], got a boolean", ErrorType.INVALID_PARAMETER)
    if isinstance(value, (bytes, bytearray, str)):
        text = _text(name, value).strip()
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(
                f"'{name}' must be a number in [0, 1], got {text!r}", ErrorType.INVALID_PARAMETER
            ) from None
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidInput(f"'{name}' must be a number in [0, 1], got {value!r}", ErrorType.INVALID_PARAMETER)
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"'{name}' must be in [0, 1], got {value}", ErrorType.INVALID_PARAMETER)
    return float(value)


def _flag(name: str, value: Any) -> bool:
    """A JSON boolean, or true/false/1/0/yes/no as text (multipart)."""
    if isinstance(value, bool):
        return value
    text = _text(name, value).strip().lower() if isinstance(value, (bytes, bytearray, str)) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InvalidInput(f"'{name}' must be true or false, got {value!r}", ErrorType.INVALID_PARAMETER)


def _count(name: str, value: Any, limit: int) -> int:
    """A whole number in [1, limit], as a JSON integer or as text (multipart)."""
    if isinstance(value, (bytes, bytearray, str)):
        value = _text(name, value).strip()
        value = int(value) if value.isdecimal() else value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidInput(
            f"'{name}' must be a whole number in [1, {limit}], got {value!r}", ErrorType.INVALID_PARAMETER
        )
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``, case-insensitive."""
    text = _text(name, value).strip().lower()
    if text not in choices:
        raise InvalidInput(f"'{name}' must be one of {', '.join(choices)}, got {text!r}", ErrorType.INVALID_PARAMETER)
    return text


def _output_options(fields: Mapping[str, Any], settings: HandlerSettings) -> dict[str, Any]:
    """NMS, size and box format options; absent fields keep DetectionRequest's defaults."""
    present = {name: fields[name] for name in OUTPUT_FIELDS if fields.get(name) is not None}
    parsers = {
        "nms_threshold": lambda value: _threshold("nms_threshold", value),
        "class_agnostic_nms": lambda value: _flag("class_agnostic_nms", value),
        "max_detections": lambda value: _count("max_detections", value, defaults.MAX_DETECTIONS_LIMIT),
        "box_format": lambda value: _choice("box_format", value, BOX_FORMATS),
        "normalized": lambda value: _flag("normalized", value),
    }
    options: dict[str, Any] = {name: parsers[name](value) for name, value in present.items()}
    options.setdefault("max_detections", settings.max_detections)
    if options.get("class_agnostic_nms") and options.get("nms_threshold") is None:
        raise InvalidInput(
            "'class_agnostic_nms' needs 'nms_threshold' (the IoU above which boxes are merged)",
            ErrorType.INVALID_PARAMETER,
        )
    return options


def _mask_threshold(value: Any) -> float:
    threshold = _threshold("mask_threshold", value)
    if not 0.0 < threshold < 1.0:
        raise InvalidInput(
            f"'mask_threshold' must lie strictly between 0 and 1 (a mask probability), got {threshold}",
            ErrorType.INVALID_PARAMETER,
        )
    return threshold


def _mask_options(fields: Mapping[str, Any], settings: HandlerSettings, max_detections: int) -> dict[str, Any]:
    """Whether to segment the boxes, and how; mask options without ``masks: true`` are refused."""
    present = {name: fields[name] for name in MASK_FIELDS if fields.get(name) is not None}
    if not (_flag("masks", present["masks"]) if "masks" in present else False):
        options = sorted(set(present) - {"masks"})
        if options:
            raise InvalidInput(f"'{options[0]}' needs 'masks': true", ErrorType.INVALID_PARAMETER)
        return {}
    if max_detections > settings.max_mask_boxes:
        raise InvalidInput(
            f"'masks' segments at most {settings.max_mask_boxes} boxes per request, but 'max_detections' is "
            f"{max_detections}: send 'max_detections' of at most {settings.max_mask_boxes} with 'masks'",
            ErrorType.INVALID_PARAMETER,
        )
    options: dict[str, Any] = {"masks": True}
    if "mask_format" in present:
        options["mask_format"] = _choice("mask_format", present["mask_format"], MASK_FORMATS)
    if "mask_threshold" in present:
        options["mask_threshold"] = _mask_threshold(present["mask_threshold"])
    return options


def validate_caption(caption: str, max_chars: int, keep_offsets: bool = False) -> str:
    """A usable, normalised caption (``keep_offsets``: :func:`offsets_caption`), or an InvalidInput saying why not."""
    if not caption.strip():
        raise InvalidInput(
            "'caption' is empty: name what to detect, e.g. 'cat . remote control'", ErrorType.INVALID_CAPTION
        )
    if not caption.replace(".", "").strip():
        raise InvalidInput("'caption' has only dots and spaces: name what to detect", ErrorType.INVALID_CAPTION)
    if len(caption) > max_chars:
        raise InvalidInput(
            f"'caption' is {len(caption)} characters long; the limit is {max_chars}", ErrorType.INVALID_CAPTION
        )
    return offsets_caption(caption) if keep_offsets else normalize_caption(caption)


def _entity_prompt(caption: str, value: Any, settings: HandlerSettings) -> dict[str, Any]:
    """Caption, labels and spans of an entities request (``value``: the field), or referring (``value`` None)."""
    if value is None:
        entities = whole_caption(caption)
    else:
        entities = parse_entities(
            _json_value("entities", value) if isinstance(value, (bytes, bytearray, str)) else value
        )
    model_caption = validate_caption(caption, settings.max_caption_chars, keep_offsets=True)
    check_spans(caption, entities)
    return {
        "caption": model_caption,
        "classes": tuple(entity_label(caption, spans) for spans in entities),
        "entities": entities,
    }


def _json_value(name: str, value: Any) -> Any:
    """A JSON value sent as text (a multipart part)."""
    try:
        return json.loads(_text(name, value))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"'{name}' must be JSON, e.g. [[0, 3], [8, 11]] ({exc})", ErrorType.INVALID_ENTITIES
        ) from None


def _prompt(fields: Mapping[str, Any], settings: HandlerSettings) -> dict[str, Any]:
    """What to detect: caption, class labels, entity spans, chunking, from exactly one of TEXT_FIELDS."""
    given = [name for name in TEXT_FIELDS if name in fields]
    if len(given) > 1:
        raise InvalidInput(
            f"send one of 'caption', 'classes' or 'vocabulary', not {' and '.join(repr(name) for name in given)}",
            ErrorType.INVALID_PARAMETER,
        )
    if not given:
        raise InvalidInput(
            "'vocabulary', 'caption' or 'classes' is required, e.g. \"coco\", 'cat . remote control' or "
            '["cat", "remote control"]',
            ErrorType.MISSING_FIELD,
        )
    referring = fields.get("referring") is not None and _flag("referring", fields["referring"])
    grounding = [
        name for name, on in (("entities", fields.get("entities") is not None), ("referring", referring)) if on
    ]
    if len(grounding) > 1:
        raise InvalidInput(
            "send either 'entities' or 'referring', not both (referring makes the whole caption one entity)",
            ErrorType.INVALID_PARAMETER,
        )
    if grounding and given != ["caption"]:
        raise InvalidInput(f"'{grounding[0]}' needs a 'caption' (the text it refers to)", ErrorType.INVALID_PARAMETER)
    chunking = fields.get("classes_per_chunk")
    if chunking is not None and grounding:
        raise InvalidInput(
            f"'classes_per_chunk' splits a list of classes; a caption with '{grounding[0]}' is read as one piece",
            ErrorType.INVALID_PARAMETER,
        )
    options = {}
    if chunking is not None:
        options["classes_per_chunk"] = _count("classes_per_chunk", chunking, defaults.MAX_CLASSES_PER_CHUNK)
    if grounding:
        return _entity_prompt(_text("caption", fields["caption"]), fields.get("entities"), settings)
    if given == ["vocabulary"]:
        vocabulary = load_vocabulary(_text("vocabulary", fields["vocabulary"]).strip().lower())
        return {"caption": vocabulary.caption(), "classes": vocabulary.labels, **options}
    if given == ["classes"]:
        classes = parse_classes(fields["classes"])
        return {"caption": classes_caption(classes), "classes": classes, **options}
    return {"caption": validate_caption(_text("caption", fields["caption"]), settings.max_caption_chars), **options}


def parse_request(raw: Mapping[str, Any], settings: HandlerSettings) -> DetectionRequest:
    """Validate one request's fields; every problem becomes an InvalidInput naming the field."""
    fields = dict(raw)
    unknown = sorted(set(fields) - KNOWN_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s): {', '.join(unknown)}; accepted: {', '.join(sorted(KNOWN_FIELDS))}",
            ErrorType.UNKNOWN_FIELD,
        )
    for alias, name in ALIASES.items():
        if alias in fields:
            if name in fields:
                raise InvalidInput(
                    f"send either '{name}' or its alias '{alias}', not both", ErrorType.INVALID_PARAMETER
                )
            fields[name] = fields.pop(alias)
    if IMAGE_FIELD not in fields:
        raise InvalidInput("'image' is required (base64 in JSON, or a file part in multipart)", ErrorType.MISSING_FIELD)
    prompt = _prompt(fields, settings)
    thresholds = {
        name: _threshold(name, fields[name]) if fields.get(name) is not None else getattr(settings, name)
        for name in THRESHOLD_FIELDS
    }
    output = _output_options(fields, settings)
    return DetectionRequest(
        image=decode_image_field(fields[IMAGE_FIELD]),
        **prompt,
        **thresholds,
        **output,
        **_mask_options(fields, settings, output["max_detections"]),
    )
