"""The back-end benchmark's inputs (gdino_serve/tools/benchmark_backends.py): every photo at exactly the
issue's 800x1333, scaled without distortion and centred; the variant chosen on the command line."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gdino_serve.tools.benchmark import parse_options
from gdino_serve.tools.benchmark_backends import cropped_photo
from gdino_serve.tools.sample_photos import PHOTOS, photo_bytes


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_is_cropped_to_exactly_the_benchmark_size(name: str) -> None:
    assert Image.open(io.BytesIO(cropped_photo(name, 800, 1333))).size == (1333, 800)


def test_the_crop_is_the_centre_of_the_photo_scaled_without_distortion() -> None:
    square = Image.open(io.BytesIO(photo_bytes("astronaut.png"))).convert("RGB").resize((1333, 1333))
    centre = np.asarray(square.crop((0, 266, 1333, 1066)), dtype=np.int16)
    cropped = np.asarray(Image.open(io.BytesIO(cropped_photo("astronaut.png", 800, 1333))), dtype=np.int16)
    assert np.abs(cropped - centre).max() == 0


def test_the_candidate_and_the_input_sizes_come_from_the_command_line() -> None:
    default = parse_options(["--compare-backends", "--size", "800"])
    assert (default.candidate, default.photo_sizes, default.resize_max) == ("openvino", False, 1333)
    compiled = parse_options(["--compare-backends", "--size", "800", "--candidate", "compiled", "--photo-sizes"])
    assert (compiled.candidate, compiled.photo_sizes) == ("compiled", True)
    with pytest.raises(SystemExit):
        parse_options(["--compare-backends", "--candidate", "tensorrt"])
