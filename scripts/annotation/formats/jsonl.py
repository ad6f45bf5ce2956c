"""JSONL of the raw responses: one line per annotated image, ``{"path": key, "response": {...}}``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from scripts.annotation.classes import ClassList
from scripts.annotation.formats.files import write_text
from scripts.annotation.results import ImageResult


def write_jsonl(results: Sequence[ImageResult], classes: ClassList, out: Path) -> Path:
    lines = (json.dumps({"path": result.key, "response": result.response}, ensure_ascii=False) for result in results)
    return write_text(out / "responses.jsonl", "".join(line + "\n" for line in lines))
