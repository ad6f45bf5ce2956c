"""Per-image results in one shape for every writer, built from the server's responses.

A box's class id comes from the server's ``class_ids`` when it sent them (the ``classes``
field), else from matching its phrase to the class list; a box whose phrase names no class
keeps ``class_id`` None and is left out of the class-based formats (COCO, YOLO, Label Studio).
A box's mask (``mask``, as the server sent it: a COCO RLE object or polygons) is there when the
run asked for masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gdino_client.classes import ClassList


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image as displayed
    score: float
    phrase: str
    class_id: int | None
    mask: Any = None  # COCO RLE object or polygons, at the image's size; None without masks
    mask_score: float | None = None

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = self.box
        return x1, y1, x2 - x1, y2 - y1


@dataclass(frozen=True)
class ImageResult:
    key: str  # relative path of the image
    width: int
    height: int
    detections: tuple[Detection, ...]
    response: dict[str, Any]  # the server's answer, unchanged

    @property
    def labelled(self) -> tuple[Detection, ...]:
        """Detections that belong to a class."""
        return tuple(detection for detection in self.detections if detection.class_id is not None)


def _class_ids(response: dict[str, Any], phrases: list[str], classes: ClassList) -> list[int | None]:
    server_ids = response.get("class_ids")
    if isinstance(server_ids, list) and len(server_ids) == len(phrases):
        return [i if isinstance(i, int) and 0 <= i < len(classes.names) else None for i in server_ids]
    return [classes.match(phrase) for phrase in phrases]


def image_result(key: str, response: dict[str, Any], classes: ClassList) -> ImageResult:
    """The result of one successful response."""
    count = len(response["boxes"])
    phrases = [str(phrase) for phrase in response.get("phrases") or [""] * count]
    masks = response.get("masks") or [None] * count
    mask_scores = response.get("mask_scores") or [None] * count
    detections = tuple(
        Detection(tuple(float(v) for v in box), float(score), phrase, class_id, mask, mask_score)  # type: ignore[arg-type]
        for box, score, phrase, class_id, mask, mask_score in zip(
            response["boxes"], response["scores"], phrases, _class_ids(response, phrases, classes), masks, mask_scores
        )
    )
    width, height = response["image_size"]
    return ImageResult(key, int(width), int(height), detections, response)


def check_response(response: object) -> None:
    """Raise ValueError unless ``response`` has the documented shape (so it is safe to journal)."""
    if not isinstance(response, dict) or not all(key in response for key in ("boxes", "scores", "image_size")):
        raise ValueError(f"unexpected response: {str(response)[:200]}")
    if len(response["boxes"]) != len(response["scores"]) or len(response["image_size"]) != 2:
        raise ValueError(f"inconsistent response: {str(response)[:200]}")
    if "masks" in response and len(response["masks"]) != len(response["boxes"]):
        raise ValueError(f"inconsistent response: {len(response['masks'])} masks for {len(response['boxes'])} boxes")
