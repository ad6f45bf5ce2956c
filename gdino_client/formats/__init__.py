"""The output formats, by the names the command line uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from gdino_client.classes import ClassList
from gdino_client.formats.coco import write_coco
from gdino_client.formats.jsonl import write_jsonl
from gdino_client.formats.yolo import write_yolo
from gdino_client.labelstudio.export import LabelStudioOptions, write_labelstudio
from gdino_client.results import ImageResult

Writer = Callable[[Sequence[ImageResult], ClassList, Path], Path]
FORMATS = ("coco", "labelstudio", "yolo", "jsonl")


def parse_formats(text: str) -> tuple[str, ...]:
    """'coco,yolo' -> ('coco', 'yolo'); 'all' -> every format; unknown names raise ValueError."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return FORMATS
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)} or all")
    return tuple(dict.fromkeys(names))


def writers(labelstudio: LabelStudioOptions, images: Path) -> dict[str, Writer]:
    """The writers by format name; ``images`` is the folder the image keys are relative to."""
    return {
        "coco": write_coco,
        "labelstudio": partial(write_labelstudio, options=labelstudio),
        "yolo": partial(write_yolo, images=images),
        "jsonl": write_jsonl,
    }
