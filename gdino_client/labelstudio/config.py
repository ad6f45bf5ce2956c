"""What a Label Studio labeling config asks for: the ``<RectangleLabels>`` control, the
``<Image>`` it draws on, the task data key holding the image URL, and the labels (the class list)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from gdino_client.classes import ClassList


class UnusableConfig(ValueError):
    """The labeling config has no rectangle labels on an image."""


@dataclass(frozen=True)
class BoxTarget:
    from_name: str  # name of the <RectangleLabels> control
    to_name: str  # name of the <Image> object
    data_key: str  # task data key of the image URL ("image" for value="$image")
    classes: ClassList


def box_target(label_config: str) -> BoxTarget:
    """The first ``<RectangleLabels>`` (with its ``<Label>`` values) and the ``<Image>`` it names."""
    try:
        root = ElementTree.fromstring(label_config)
    except ElementTree.ParseError as error:
        raise UnusableConfig(f"the labeling config is not XML: {error}") from None
    control = next(root.iter("RectangleLabels"), None)
    if control is None:
        raise UnusableConfig("the labeling config has no <RectangleLabels> control")
    to_name = control.get("toName", "")
    image = next((tag for tag in root.iter("Image") if tag.get("name") == to_name), None)
    if image is None or not image.get("value", "").startswith("$"):
        raise UnusableConfig(f"the labeling config has no <Image name={to_name!r} value='$...'>")
    labels = [label.get("value", "") for label in control.iter("Label")]
    return BoxTarget(control.get("name", ""), to_name, image.get("value", "")[1:], ClassList.of(labels))
