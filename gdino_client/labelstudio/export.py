"""Label Studio tasks with pre-annotations: a list of ``{"data": {"image": url}, "predictions":
[...]}`` whose results are ``rectanglelabels`` in percent of the image size, plus the labeling
config (XML) that the ``from_name``/``to_name`` and the label values refer to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from gdino_client.classes import ClassList
from gdino_client.formats.files import write_json, write_text
from gdino_client.results import ImageResult
from handler.contract import defaults


@dataclass(frozen=True)
class LabelStudioOptions:
    from_name: str = "label"  # name of the <RectangleLabels> control
    to_name: str = "image"  # name of the <Image> object, also the task's data key
    image_prefix: str = "/data/local-files/?d="  # URL prefix before the image's relative path
    model_version: str = defaults.PREDICTIONS_MODEL_VERSION


def _percent(value: float, size: int) -> float:
    return round(100.0 * value / size, 4)


def prediction(result: ImageResult, classes: ClassList, options: LabelStudioOptions) -> dict[str, Any]:
    """One Label Studio prediction: a ``rectanglelabels`` region per labelled box, in percent."""
    regions = []
    for index, detection in enumerate(result.labelled):
        x, y, w, h = detection.xywh
        regions.append(
            {
                "id": f"r{index}",
                "type": "rectanglelabels",
                "from_name": options.from_name,
                "to_name": options.to_name,
                "original_width": result.width,
                "original_height": result.height,
                "image_rotation": 0,
                "value": {
                    "x": _percent(x, result.width),
                    "y": _percent(y, result.height),
                    "width": _percent(w, result.width),
                    "height": _percent(h, result.height),
                    "rotation": 0,
                    "rectanglelabels": [classes.names[detection.class_id]],
                },
                "score": detection.score,
            }
        )
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
    labels = "".join(f"    <Label value={quoteattr(name)}/>\n" for name in classes.names)
    return (
        "<View>\n"
        f"  <Image name={quoteattr(options.to_name)} value={quoteattr('$' + options.to_name)}/>\n"
        f"  <RectangleLabels name={quoteattr(options.from_name)} toName={quoteattr(options.to_name)}>\n"
        f"{labels}  </RectangleLabels>\n</View>\n"
    )


def write_labelstudio(
    results: Sequence[ImageResult], classes: ClassList, out: Path, options: LabelStudioOptions
) -> Path:
    write_text(out / "labelstudio_config.xml", labeling_config(classes, options))
    return write_json(out / "labelstudio.json", [task(result, classes, options) for result in results])
