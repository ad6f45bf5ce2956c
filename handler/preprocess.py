"""Stage 3: resize and normalise a decoded image exactly as the reference ``load_image`` does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Resize:
    """Short side to ``short`` pixels, long side at most ``max_size`` (T.RandomResize([800], 1333))."""

    short: int = 800
    max_size: int = 1333

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after resizing; the same arithmetic as groundingdino.datasets.transforms."""
        size = self.short
        small, large = float(min(width, height)), float(max(width, height))
        if large / small * size > self.max_size:
            size = int(round(self.max_size * small / large))
        if (width <= height and width == size) or (height <= width and height == size):
            return width, height
        if width < height:
            return size, int(size * height / width)
        return int(size * width / height), size


def to_model_input(image: Image.Image, resize: Resize) -> torch.Tensor:
    """A normalised float tensor (3, H, W) for the model, resized with Pillow's bilinear filter."""
    target = resize.output_size(*image.size)
    if target != image.size:
        image = image.resize(target, Image.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
    tensor = pixels.to(torch.float32).div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return tensor.sub_(mean).div_(std)
