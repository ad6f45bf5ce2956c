"""Atomic file writes: an output is either the old complete file or the new one, never half."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def write_json(path: Path, document: Any) -> Path:
    return write_text(path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
