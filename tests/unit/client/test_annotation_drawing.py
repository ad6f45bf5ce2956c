"""Annotated pictures stay readable on dark and light images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gdino_client.classes import ClassList
from gdino_client.drawing import BLACK, PALETTE, UNMATCHED, WHITE, draw_detections, text_color
from gdino_client.results import Detection

CLASSES = ClassList.of(["person", "hard hat"])


@pytest.mark.parametrize(
    ("color", "expected"), [((255, 225, 25), BLACK), ((0, 0, 128), WHITE), ((255, 255, 255), BLACK), ((0, 0, 0), WHITE)]
)
def test_label_text_color_contrasts_with_its_tag(color: tuple[int, int, int], expected: tuple[int, int, int]) -> None:
    assert text_color(color) == expected


@pytest.mark.parametrize("background", [(0, 0, 0), (255, 255, 255)])
def test_box_and_label_show_on_dark_and_light_images(background: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (400, 300), background)
    detection = Detection((100.0, 120.0, 300.0, 280.0), 0.87, "person", 0)
    pixels = np.asarray(draw_detections(image, [detection], CLASSES))
    color, ink = PALETTE[0], text_color(PALETTE[0])
    assert tuple(pixels[200, 100]) == color  # the box's left edge
    tag = pixels[106:118, 102:165].reshape(-1, 3)  # inside the label tag above the box
    assert (tag == color).all(axis=1).mean() > 0.3
    distance = lambda rgb: np.abs(tag.astype(int) - rgb).sum(axis=1)  # noqa: E731
    assert (distance(ink) < distance(color)).sum() > 20  # the label's (anti-aliased) text
    assert tuple(pixels[200, 99]) == tuple(pixels[200, 102]) == ink  # the contrasting halo on both sides


def test_label_of_a_box_at_the_top_edge_goes_inside_it() -> None:
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    pixels = np.asarray(draw_detections(image, [Detection((50.0, 0.0, 200.0, 100.0), 0.5, "person", 0)], CLASSES))
    assert (pixels[2:20, 60:120].reshape(-1, 3) == PALETTE[0]).all(axis=1).mean() > 0.3


def test_box_without_a_class_is_drawn_grey() -> None:
    image = Image.new("RGB", (400, 300), (0, 0, 0))
    pixels = np.asarray(draw_detections(image, [Detection((100.0, 120.0, 300.0, 280.0), 0.6, "dog", None)], CLASSES))
    assert tuple(pixels[200, 100]) == UNMATCHED
