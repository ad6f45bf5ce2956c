"""What a Label Studio labeling config asks for: the ``<RectangleLabels>`` control for boxes and/or a
``<BrushLabels>`` or ``<PolygonLabels>`` control for masks, the ``<Image>`` they draw on, the task
data key holding the image URL, and the labels (the class list)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from gdino_client.classes import ClassList

BOX_CONTROL = "RectangleLabels"
MASK_CONTROLS = {"BrushLabels": "brush", "PolygonLabels": "polygon"}


class UnusableConfig(ValueError):
    """The labeling config has no rectangle, brush or polygon labels on an image."""


@dataclass(frozen=True)
class BoxTarget:
    from_name: str | None  # name of the <RectangleLabels> control; None when the config has none
    to_name: str  # name of the <Image> object
    data_key: str  # task data key of the image URL ("image" for value="$image")
    classes: ClassList
    mask_from_name: str | None = None  # name of the <BrushLabels> or <PolygonLabels> control, if any
    mask_type: str | None = None  # "brush" or "polygon": what the config wants masks as

    @property
    def wants_masks(self) -> bool:
        return self.mask_type is not None


def box_target(label_config: str) -> BoxTarget:
    """The first ``<RectangleLabels>`` and the first ``<BrushLabels>``/``<PolygonLabels>`` (at least one of
    them) on the same ``<Image>``; the labels are the rectangle control's, else the mask control's."""
    try:
        root = ElementTree.fromstring(label_config)
    except ElementTree.ParseError as error:
        raise UnusableConfig(f"the labeling config is not XML: {error}") from None
    boxes = next(root.iter(BOX_CONTROL), None)
    masks = next((tag for tag in root.iter() if tag.tag in MASK_CONTROLS), None)
    first = boxes if boxes is not None else masks
    if first is None:
        raise UnusableConfig(f"the labeling config has no <{BOX_CONTROL}>, <BrushLabels> or <PolygonLabels> control")
    to_name = first.get("toName", "")
    image = next((tag for tag in root.iter("Image") if tag.get("name") == to_name), None)
    if image is None or not image.get("value", "").startswith("$"):
        raise UnusableConfig(f"the labeling config has no <Image name={to_name!r} value='$...'>")
    if masks is not None and masks.get("toName", "") != to_name:
        raise UnusableConfig(f"the <{masks.tag}> control draws on {masks.get('toName')!r}, not on {to_name!r}")
    labels = [label.get("value", "") for label in first.iter("Label")]
    return BoxTarget(
        boxes.get("name", "") if boxes is not None else None,
        to_name,
        image.get("value", "")[1:],
        ClassList.of(labels),
        masks.get("name", "") if masks is not None else None,
        MASK_CONTROLS[masks.tag] if masks is not None else None,
    )
