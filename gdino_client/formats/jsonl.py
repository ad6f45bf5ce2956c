"""JSONL of the raw responses: one line per annotated image, ``{"path": key, "response": {...}}``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_text
from gdino_client.results import ImageResult


def write_jsonl(results: Sequence[ImageResult], classes: ClassList, out: Path) -> Path:
    lines = (json.dumps({"path": result.key, "response": result.response}, ensure_ascii=False) for result in results)
    return write_text(out / "responses.jsonl", "".join(line + "\n" for line in lines))
