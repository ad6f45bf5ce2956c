"""YOLO dataset that Ultralytics trains on as it is: ``images/`` and ``labels/`` side by side,
one flat folder each (sub-folders joined into the name: ``a/b/x.jpg`` -> ``a__b__x.jpg``), a
label line per box ``class cx cy w h`` normalised to 0..1, and ``data.yaml`` with ``path``,
``train``, ``val`` and ``names`` (plus ``classes.txt``). An image without boxes gets an empty
label file (a background image). Images are hard-linked where the file system allows, else copied.
Every image is in both ``train`` and ``val``: split it as your project needs before training."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_text
from gdino_client.results import ImageResult

FLAT_SEPARATOR = "__"


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


def flat_name(key: str) -> str:
    """The image's file name in the flat ``images/`` folder: its relative path joined by ``__``."""
    return FLAT_SEPARATOR.join(PurePosixPath(key).parts)


def label_path(key: str) -> PurePosixPath:
    return PurePosixPath("labels") / PurePosixPath(flat_name(key)).with_suffix(".txt")


def _place_image(source: Path, target: Path) -> None:
    """Hard-link (no extra space) or copy ``source`` to ``target``, replacing what is there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def data_yaml(folder: Path, classes: ClassList) -> str:
    names = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(classes.names))
    return (
        f"path: {json.dumps(str(folder.resolve()))}\ntrain: images\nval: images\n"
        f"nc: {len(classes.names)}\nnames:\n{names}"
    )


def write_yolo(results: Sequence[ImageResult], classes: ClassList, out: Path, images: Path) -> Path:
    """Write the dataset into ``out/yolo``; ``images`` is the folder the results' keys are relative to."""
    folder = out / "yolo"
    names = [flat_name(result.key) for result in results]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise ValueError(f"images whose flattened names clash in yolo/images: {', '.join(clashes)}")
    for result, name in zip(results, names):
        _place_image(images / result.key, folder / "images" / name)
        write_text(folder / label_path(result.key), "".join(line + "\n" for line in yolo_lines(result)))
    write_text(folder / "classes.txt", "".join(name + "\n" for name in classes.names))
    write_text(folder / "data.yaml", data_yaml(folder, classes))
    return folder
