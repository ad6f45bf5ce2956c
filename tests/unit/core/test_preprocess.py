"""Preprocessing matches the reference transform (groundingdino.datasets.transforms)."""

from __future__ import annotations

import groundingdino.datasets.transforms as T
import pytest
import torch
from PIL import Image

from handler.core.image_decode import DecodedImage
from handler.core.preprocess import Preprocessor, Resize


def reference(image: Image.Image, short: int, max_size: int) -> torch.Tensor:
    transform = T.Compose(
        [
            T.RandomResize([short], max_size=max_size),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    return transform(image, None)[0]


@pytest.mark.parametrize("size", [(512, 512), (600, 400), (451, 300), (3000, 400), (800, 1200), (1333, 800)])
def test_resize_and_normalise_equal_the_reference(size):
    torch.manual_seed(0)
    image = Image.fromarray((torch.rand(size[1], size[0], 3) * 255).byte().numpy(), "RGB")
    ours = Preprocessor(Resize(800, 1333), torch.device("cpu"))(DecodedImage(image, image.size))
    ref = reference(image, 800, 1333)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-6)


def test_long_side_is_capped():
    assert Resize(800, 1333).output_size(4000, 1000) == (1332, 333)


def test_configured_smaller_size_is_used():
    assert Resize(320, 512).output_size(640, 480) == (426, 320)
