"""The SAM and SAM 2.1 back end on tiny random folders in the published layouts, in process."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gdino_serve.demo_sam_model import cached_random_sam_model, parameter_count
from handler.backends.sam.segmenter import SamSegmenter
from handler.core.settings import HandlerSettings

pytestmark = pytest.mark.masks

BOXES = torch.tensor([[10.0, 12.0, 90.0, 70.0], [40.0, 5.0, 150.0, 95.0], [0.0, 0.0, 160.0, 100.0]])


@pytest.fixture(scope="module", params=["tiny-sam2", "tiny-sam"])
def segmenter(request: pytest.FixtureRequest) -> SamSegmenter:
    return SamSegmenter.load(cached_random_sam_model(request.param), HandlerSettings(), torch.device("cpu"))


def picture(width: int = 160, height: int = 100) -> Image.Image:
    pixels = np.random.default_rng(3).integers(0, 256, (height // 10, width // 10, 3), dtype=np.uint8)
    return Image.fromarray(pixels).resize((width, height), Image.BICUBIC)


def test_each_box_gets_a_mask_at_the_displayed_size_equal_to_its_mask_alone(segmenter: SamSegmenter) -> None:
    together = list(segmenter.segment(picture(), (160, 100), BOXES, 0.5))
    assert len(together) == 3 and all(item.mask.shape == (100, 160) and item.mask.dtype == bool for item in together)
    assert all(0.0 <= item.score <= 1.0 for item in together) and any(item.mask.any() for item in together)
    for index in range(3):
        (alone,) = segmenter.segment(picture(), (160, 100), BOXES[index : index + 1].clone(), 0.5)
        assert np.array_equal(alone.mask, together[index].mask) and alone.score == together[index].score


def test_a_reduced_decode_still_answers_at_the_displayed_size_and_no_boxes_cost_nothing(
    segmenter: SamSegmenter,
) -> None:
    (item,) = segmenter.segment(picture().resize((80, 50)), (160, 100), BOXES[:1], 0.5)
    assert item.mask.shape == (100, 160)
    assert list(segmenter.segment(picture(), (160, 100), torch.zeros((0, 4)), 0.5)) == []


def test_a_higher_threshold_gives_a_subset_of_the_pixels(segmenter: SamSegmenter) -> None:
    (loose,) = segmenter.segment(picture(), (160, 100), BOXES[1:2], 0.2)
    (strict,) = segmenter.segment(picture(), (160, 100), BOXES[1:2], 0.8)
    assert strict.mask.sum() < loose.mask.sum() and not (strict.mask & ~loose.mask).any()


def test_the_sam2_test_folder_has_the_published_layout() -> None:
    folder = cached_random_sam_model("tiny-sam2")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "sam2_video"
    assert (folder / "RANDOM_WEIGHTS.txt").exists()
    assert parameter_count("facebook/sam2.1-hiera-tiny") == 38_962_498  # the published 38.9M
    assert parameter_count("facebook/sam-vit-base") == 93_735_472  # the published 94M
