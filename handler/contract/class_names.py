"""Class lists: parse and validate the ``classes`` field and write the caption the model reads.

A class list is another way of writing a caption: ``["person", "Hard hat"]`` becomes
``"person . hard hat ."`` (GroundingDINO's own ``" . "`` phrase separator), and every box is
labelled with the caller's class name. In JSON it must be a list (a string is refused).
Multipart clients send the list as one text field: a value starting with ``[`` is read as a
JSON list, anything else as one class per line (blank lines ignored).

Torch-free: the batch client (:mod:`gdino_client`) applies the same rules before it sends a list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from handler.contract.errors import ErrorType, InvalidInput

MAX_CLASSES = 2000
MAX_CLASS_CHARS = 256


def _class_values(value: Any) -> list[Any]:
    """The raw list of class names: a JSON list, or a multipart text field (bytes) holding a JSON
    list or one name per line. A JSON string is refused: the typed contract is a list."""
    if isinstance(value, str):
        raise InvalidInput(
            '\'classes\' must be a list of class names, e.g. ["cat", "dog"], got a string '
            "(one name per line is for multipart text fields only)",
            ErrorType.INVALID_CLASSES,
        )
    if isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("'classes' must be UTF-8 text", ErrorType.INVALID_CLASSES) from None
        if not text.lstrip().startswith("["):
            return [line for line in text.splitlines() if line.strip()]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"'classes' starts with '[' but is not a JSON list ({exc})", ErrorType.INVALID_CLASSES
            ) from None
    if not isinstance(value, list):
        raise InvalidInput(
            f"'classes' must be a list of class names, got {type(value).__name__}", ErrorType.INVALID_CLASSES
        )
    return value


def class_key(name: str) -> str:
    """How a class name reads to the model: lower case, single spaces (also the duplicate check)."""
    return " ".join(name.split()).lower()


def parse_classes(value: Any) -> tuple[str, ...]:
    """Validated class names from a request's ``classes`` field, as the caller wrote them."""
    return check_class_names(_class_values(value))


def check_class_names(names: Sequence[Any]) -> tuple[str, ...]:
    """``names`` if the service accepts them as a class list, else :class:`InvalidInput` saying why."""
    if not names:
        raise InvalidInput(
            '\'classes\' is empty: name at least one class, e.g. ["person", "hard hat"]', ErrorType.INVALID_CLASSES
        )
    if len(names) > MAX_CLASSES:
        raise InvalidInput(f"'classes' has {len(names)} names; the limit is {MAX_CLASSES}", ErrorType.INVALID_CLASSES)
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidInput(
                f"classes[{index}] must be a string, got {type(name).__name__}", ErrorType.INVALID_CLASSES
            )
        if not name.strip():
            raise InvalidInput(f"classes[{index}] is empty", ErrorType.INVALID_CLASSES)
        if len(name) > MAX_CLASS_CHARS:
            raise InvalidInput(
                f"classes[{index}] is {len(name)} characters long; the limit is {MAX_CLASS_CHARS}",
                ErrorType.INVALID_CLASSES,
            )
        if "." in name:
            raise InvalidInput(
                f"classes[{index}] ({name!r}) contains '.', which separates classes in the prompt",
                ErrorType.INVALID_CLASSES,
            )
        key = class_key(name)
        if key in seen:
            raise InvalidInput(
                f"duplicate class {name!r}: classes[{index}] repeats classes[{seen[key]}] (case-insensitive)",
                ErrorType.DUPLICATE_CLASS,
            )
        seen[key] = index
    return tuple(names)


def classes_caption(classes: Sequence[str]) -> str:
    """The caption for a class list: ``" . ".join(classes) + " ."``, lower case."""
    return " . ".join(class_key(name) for name in classes) + " ."
