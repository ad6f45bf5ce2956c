"""YOLO labels: one ``.txt`` per image mirroring its relative path, a line per box
``class cx cy w h`` normalised to 0..1, plus ``classes.txt`` and ``data.yaml`` with the names.
An image without boxes gets an empty file (a background image for YOLO)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_text
from gdino_client.results import ImageResult


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def yolo_lines(result: ImageResult) -> list[str]:
    lines = []
    for detection in result.labelled:
        x, y, w, h = detection.xywh
        cx, cy = (x + w / 2) / result.width, (y + h / 2) / result.height
        values = (_clip(cx), _clip(cy), _clip(w / result.width), _clip(h / result.height))
        lines.append(f"{detection.class_id} " + " ".join(f"{v:.6f}" for v in values))
    return lines


def label_path(key: str) -> PurePosixPath:
    return PurePosixPath("labels") / PurePosixPath(key).with_suffix(".txt")


def write_yolo(results: Sequence[ImageResult], classes: ClassList, out: Path) -> Path:
    folder = out / "yolo"
    for result in results:
        lines = yolo_lines(result)
        write_text(folder / label_path(result.key), "".join(line + "\n" for line in lines))
    write_text(folder / "classes.txt", "".join(name + "\n" for name in classes.names))
    names = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(classes.names))
    write_text(folder / "data.yaml", f"nc: {len(classes.names)}\nnames:\n{names}")
    return folder
