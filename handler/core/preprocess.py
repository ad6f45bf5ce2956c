"""Stage 3: resize and normalise a decoded image as the reference ``load_image`` does.

On the CPU the resize is Pillow's bilinear filter, exactly as the reference. On a GPU the uint8
pixels are uploaded and resized (antialiased bilinear, within one grey level of Pillow) and
normalised there, which moves 4x fewer bytes to the device and frees the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from handler.contract import defaults
from handler.core.image_decode import DecodedImage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Resize:
    """Short side to ``short`` pixels, long side at most ``max_size`` (T.RandomResize([800], 1333))."""

    short: int = defaults.RESIZE_SHORT
    max_size: int = defaults.RESIZE_MAX

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after resizing; the same arithmetic as the upstream datasets.transforms."""
        size = self.short
        small, large = float(min(width, height)), float(max(width, height))
        if large / small * size > self.max_size:
            size = int(round(self.max_size * small / large))
        if (width <= height and width == size) or (height <= width and height == size):
            return width, height
        if width < height:
            return size, int(size * height / width)
        return int(size * width / height), size


class Preprocessor:
    """Decoded image -> normalised float tensor (3, H, W) on the model's device.

    The target size comes from the full displayed size, so a JPEG decoded at reduced scale gets
    the same model input size as a full decode. Constants are built once, at start-up.
    """

    def __init__(self, resize: Resize, device: torch.device, on_device: bool | None = None) -> None:
        self.resize = resize
        self.device = device
        self.on_device = device.type == "cuda" if on_device is None else on_device
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(3, 1, 1)

    def __call__(self, decoded: DecodedImage) -> torch.Tensor:
        width, height = self.resize.output_size(*decoded.size)
        image = decoded.pixels
        if not self.on_device and image.size != (width, height):
            image = image.resize((width, height), Image.BILINEAR)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).to(self.device, non_blocking=True)
        tensor = pixels.permute(2, 0, 1).to(torch.float32).div_(255.0)
        if tensor.shape[1:] != (height, width):
            tensor = torch.nn.functional.interpolate(
                tensor[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True
            )[0]
        return tensor.sub_(self.mean).div_(self.std)
