"""Label Studio tasks with pre-annotations: a list of ``{"data": {"image": url}, "predictions":
[...]}`` whose results are ``rectanglelabels`` in percent of the image size (and, for a run with
masks, ``brushlabels`` in Label Studio's brush RLE or ``polygonlabels`` in percent), plus the
labeling config (XML) that the ``from_name``/``to_name`` and the label values refer to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_json, write_text
from gdino_client.masks import brush_rle, mask_pixels, mask_polygons
from gdino_client.results import Detection, ImageResult
from handler.contract import defaults

MASK_TYPES = ("brush", "polygon")
MASK_CONTROLS = {"brush": "BrushLabels", "polygon": "PolygonLabels"}


@dataclass(frozen=True)
class LabelStudioOptions:
    from_name: str | None = "label"  # name of the <RectangleLabels> control (None: no boxes)
    to_name: str = "image"  # name of the <Image> object, also the task's data key
    image_prefix: str = "/data/local-files/?d="  # URL prefix before the image's relative path
    model_version: str = defaults.PREDICTIONS_MODEL_VERSION
    mask_type: str | None = None  # masks as "brush" (BrushLabels) or "polygon" (PolygonLabels) regions
    mask_from_name: str = "mask"  # name of the <BrushLabels> or <PolygonLabels> control


def _percent(value: float, size: int) -> float:
    return round(100.0 * value / size, 4)


def _region(
    region_id: str, kind: str, control: tuple[str, str], result: ImageResult, detection: Detection, value: dict
) -> dict[str, Any]:
    """One result region; ``control`` is (from_name, to_name)."""
    return {
        "id": region_id,
        "type": kind,
        "from_name": control[0],
        "to_name": control[1],
        "original_width": result.width,
        "original_height": result.height,
        "image_rotation": 0,
        "value": value,
        "score": detection.score,
    }


def _box_value(result: ImageResult, detection: Detection, label: str) -> dict[str, Any]:
    x, y, w, h = detection.xywh
    return {
        "x": _percent(x, result.width),
        "y": _percent(y, result.height),
        "width": _percent(w, result.width),
        "height": _percent(h, result.height),
        "rotation": 0,
        "rectanglelabels": [label],
    }


def _mask_values(result: ImageResult, detection: Detection, label: str, mask_type: str) -> list[dict[str, Any]]:
    """A brush region's value (Label Studio's RLE), or one polygon region's value per polygon, in percent."""
    if mask_type == "brush":
        rle = brush_rle(mask_pixels(detection.mask, result.width, result.height))
        return [{"format": "rle", "rle": rle, "brushlabels": [label]}]
    return [
        {
            "points": [
                [_percent(x, result.width), _percent(y, result.height)] for x, y in zip(region[0::2], region[1::2])
            ],
            "closed": True,
            "polygonlabels": [label],
        }
        for region in mask_polygons(detection.mask, result.width, result.height)
    ]


def prediction(result: ImageResult, classes: ClassList, options: LabelStudioOptions) -> dict[str, Any]:
    """One Label Studio prediction: a ``rectanglelabels`` region per labelled box, in percent, and
    with ``mask_type`` its mask's ``brushlabels`` region or ``polygonlabels`` regions."""
    regions = []
    boxes, masks = (options.from_name or "", options.to_name), (options.mask_from_name, options.to_name)
    for index, detection in enumerate(result.labelled):
        label = classes.names[detection.class_id]
        if options.from_name is not None:
            value = _box_value(result, detection, label)
            regions.append(_region(f"r{index}", "rectanglelabels", boxes, result, detection, value))
        if options.mask_type is not None and detection.mask is not None:
            kind = f"{options.mask_type}labels"
            for part, value in enumerate(_mask_values(result, detection, label, options.mask_type)):
                region_id = f"m{index}" + (f"_{part}" if part else "")
                regions.append(_region(region_id, kind, masks, result, detection, value))
    scores = [region["score"] for region in regions]
    return {
        "model_version": options.model_version,
        "score": round(sum(scores) / len(scores), 4) if scores else 0.0,
        "result": regions,
    }


def task(result: ImageResult, classes: ClassList, options: LabelStudioOptions) -> dict[str, Any]:
    return {
        "data": {options.to_name: options.image_prefix + result.key},
        "predictions": [prediction(result, classes, options)],
    }


def labeling_config(classes: ClassList, options: LabelStudioOptions) -> str:
    """An image with a RectangleLabels control (and the mask control of ``mask_type``) over the classes."""
    labels = "".join(f"    <Label value={quoteattr(name)}/>\n" for name in classes.names)
    controls = [(options.from_name, "RectangleLabels")] if options.from_name is not None else []
    if options.mask_type is not None:
        controls.append((options.mask_from_name, MASK_CONTROLS[options.mask_type]))
    to_name = quoteattr(options.to_name)
    tags = "".join(f"  <{tag} name={quoteattr(name)} toName={to_name}>\n{labels}  </{tag}>\n" for name, tag in controls)
    return f"<View>\n  <Image name={to_name} value={quoteattr('$' + options.to_name)}/>\n{tags}</View>\n"


def write_labelstudio(
    results: Sequence[ImageResult], classes: ClassList, out: Path, options: LabelStudioOptions
) -> Path:
    write_text(out / "labelstudio_config.xml", labeling_config(classes, options))
    return write_json(out / "labelstudio.json", [task(result, classes, options) for result in results])
