"""Large JPEGs decode at reduced scale, never below the model input, with the full size reported."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from gdino_serve.tools.sample_photos import photo_bytes
from handler.core.image_decode import decode_image
from handler.core.preprocess import Preprocessor, Resize
from tests.support.images import encode

MAX_PIXELS = 40_000_000
RESIZE = Resize(800, 1333)
# Decoding at 1/2 scale averages 2x2 pixels in the DCT domain before Pillow's bilinear filter,
# which averages anyway: the model inputs differ by about one grey level (0.02 after normalising
# by std ~0.225 and 255) on average.
MAX_MEAN_INPUT_DIFF = 0.03
# The random-weight model moves its boxes under any invisible input change (see
# gdino_serve/tools/compare_detections.py), so the drafted input must not move the top detections more than
# the same change with its structure destroyed (its values shuffled over the pixels) does, within
# 0.1 IoU / 0.03 score: drafting adds no error beyond its one grey level of difference.


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 12-megapixel JPEG (4000x3000) made from a real photo."""
    photo = Image.open(io.BytesIO(photo_bytes("chelsea.png"))).convert("RGB")
    return encode(photo.resize((4000, 3000), Image.BICUBIC), "JPEG", quality=90)


def _exif_rotated(data: bytes, orientation: int) -> bytes:
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=90, exif=exif.tobytes())


def test_large_jpeg_is_decoded_smaller_but_not_below_model_input_and_reports_full_size(big_jpeg: bytes) -> None:
    decoded = decode_image(big_jpeg, MAX_PIXELS, RESIZE.output_size)
    target = RESIZE.output_size(4000, 3000)
    assert decoded.size == (4000, 3000)
    assert decoded.pixels.size == (2000, 1500)  # the smallest JPEG scale still >= 1067x800
    assert decoded.pixels.width >= target[0] and decoded.pixels.height >= target[1]


def test_exif_rotated_jpeg_drafts_for_the_displayed_orientation_and_reports_swapped_full_size(
    big_jpeg: bytes,
) -> None:
    decoded = decode_image(_exif_rotated(big_jpeg, 6), MAX_PIXELS, RESIZE.output_size)
    target = RESIZE.output_size(3000, 4000)
    assert decoded.size == (3000, 4000)
    assert decoded.pixels.width >= target[0] and decoded.pixels.height >= target[1]
    assert decoded.pixels.size == (1500, 2000)


def test_small_jpeg_and_png_are_decoded_at_full_size(photos: dict[str, bytes]) -> None:
    small = decode_image(photos["rocket.jpg"], MAX_PIXELS, RESIZE.output_size)
    assert small.pixels.size == small.size
    big_png = encode(Image.new("RGB", (4000, 3000), (90, 120, 150)))
    assert decode_image(big_png, MAX_PIXELS, RESIZE.output_size).pixels.size == (4000, 3000)


def test_drafted_decode_gives_the_same_model_input_size_and_nearly_the_same_input_as_full_decode(
    big_jpeg: bytes,
) -> None:
    preprocess = Preprocessor(RESIZE, torch.device("cpu"))
    drafted = decode_image(big_jpeg, MAX_PIXELS, RESIZE.output_size)
    full = decode_image(big_jpeg, MAX_PIXELS)
    assert drafted.pixels.width < full.pixels.width and drafted.size == full.size
    drafted_input, full_input = preprocess(drafted), preprocess(full)
    assert drafted_input.shape == full_input.shape
    assert float((drafted_input - full_input).abs().mean()) < MAX_MEAN_INPUT_DIFF


def test_cpu_preprocess_equals_the_reference_transform(photos: dict[str, bytes]) -> None:
    import groundingdino.datasets.transforms as T

    decoded = decode_image(photos["chelsea.png"], MAX_PIXELS, RESIZE.output_size)
    reference = T.Compose(
        [T.RandomResize([800], max_size=1333), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    )
    expected, _ = reference(decoded.pixels, None)
    assert torch.equal(Preprocessor(RESIZE, torch.device("cpu"))(decoded), expected)


def test_device_resize_path_is_within_about_one_grey_level_of_pillow(big_jpeg: bytes) -> None:
    decoded = decode_image(big_jpeg, MAX_PIXELS, RESIZE.output_size)
    pillow = Preprocessor(RESIZE, torch.device("cpu"))(decoded)
    tensor = Preprocessor(RESIZE, torch.device("cpu"), on_device=True)(decoded)
    assert tensor.shape == pillow.shape
    assert float((tensor - pillow).abs().mean()) < 1.5 / 255 / 0.225
