"""YOLO dataset that Ultralytics trains on as it is: ``images/`` and ``labels/`` side by side,
one flat folder each (sub-folders joined into the name: ``a/b/x.jpg`` -> ``a__b__x.jpg``), a
label line per box ``class cx cy w h`` normalised to 0..1 (a run with masks: a segmentation line per
box, ``class x1 y1 x2 y2 ...``, its mask's largest polygon normalised to 0..1), and ``data.yaml`` with ``path``,
``train``, ``val`` and ``names`` (plus ``classes.txt``). An image without boxes gets an empty
label file (a background image). Images are hard-linked where the file system allows, else copied.
Every image is in both ``train`` and ``val``: split it as your project needs before training."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_text
from gdino_client.masks import mask_polygons
from gdino_client.results import Detection, ImageResult

logger = logging.getLogger(__name__)

FLAT_SEPARATOR = "__"


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def segment_line(detection: Detection, width: int, height: int) -> str | None:
    """``class x1 y1 x2 y2 ...`` of the mask's largest polygon, or None when the mask outlines nothing."""
    outlines = mask_polygons(detection.mask, width, height)
    if not outlines:
        return None
    xs, ys = outlines[0][0::2], outlines[0][1::2]
    values = (value for x, y in zip(xs, ys) for value in (_clip(x / width), _clip(y / height)))
    return f"{detection.class_id} " + " ".join(f"{v:.6f}" for v in values)


def yolo_lines(result: ImageResult) -> list[str]:
    """One line per labelled box: segmentation lines when the boxes have masks, else box lines.

    Never both in one file (Ultralytics rejects a label file mixing them): a box whose mask outlines
    nothing is left out of a segmentation file.
    """
    if any(detection.mask is not None for detection in result.labelled):
        lines = [segment_line(detection, result.width, result.height) for detection in result.labelled]
        if None in lines:
            logger.warning(
                "%s: %d box(es) with an empty mask left out of its YOLO labels", result.key, lines.count(None)
            )
        return [line for line in lines if line is not None]
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
