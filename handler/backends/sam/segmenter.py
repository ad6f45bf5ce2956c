"""SAM (``facebook/sam-vit-*``) and SAM 2.1 (``facebook/sam2.1-hiera-*``) as a :class:`Segmenter`.

The mask model is a local ``save_pretrained`` folder (the ``mask_model`` setting), loaded offline
with transformers' ``SamModel``/``SamProcessor`` or ``Sam2Model``/``Sam2Processor`` as its
``config.json`` says (the published SAM 2.1 folders are ``sam2_video``: ``Sam2Model`` loads their
image modules and skips the video memory). It runs in float32 on the worker's device.

Per image: the processor's preprocessing (SAM: long side to 1024 and padded; SAM 2: squashed to
1024 x 1024) and one image-embedding call; then one prompt-encoder and mask-decoder call per box,
so a box's mask depends on its image and its box only (batching boxes or images changes the GEMM
shapes, and with them the rounding: a mask pixel near the threshold flips). The low-resolution
mask logits are upsampled to the displayed size by the processor's ``post_process_masks``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from handler.backends.transformers.model_loader import RANDOM_WEIGHTS_MARK, force_offline, model_type
from handler.core.segmenter import BoxMask
from handler.core.settings import HandlerSettings

logger = logging.getLogger(__name__)

# config.json model_type -> (model class, processor class) in transformers
FAMILIES = {
    "sam": ("SamModel", "SamProcessor"),
    "sam2": ("Sam2Model", "Sam2Processor"),
    "sam2_video": ("Sam2Model", "Sam2Processor"),  # the published SAM 2.1 folders
}


def logit(probability: float) -> float:
    """The mask logit a probability threshold stands for (0.5 -> 0.0, SAM's own threshold)."""
    return math.log(probability) - math.log1p(-probability)


class SamSegmenter:
    """A transformers SAM or SAM 2 model and its processor."""

    def __init__(self, model: Any, processor: Any, device: torch.device) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.padded = model.config.model_type == "sam"  # SAM keeps the aspect ratio and pads; SAM 2 squashes

    @classmethod
    def load(cls, folder: Path, settings: HandlerSettings, device: torch.device) -> SamSegmenter:
        force_offline()
        import transformers

        model_name, processor_name = FAMILIES[model_type(folder, tuple(FAMILIES))]
        model = getattr(transformers, model_name).from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        processor = getattr(transformers, processor_name).from_pretrained(folder, local_files_only=True)
        logger.info("loaded the mask model %s (%s) from %s", model_name, model.config.model_type, folder)
        if (folder / RANDOM_WEIGHTS_MARK).exists():
            logger.warning("%s holds RANDOM WEIGHTS (a test/demo folder): its masks mean nothing", folder)
        return cls(model.to(device).eval(), processor, device)

    def _content_size(self, inputs: Any) -> tuple[int, int]:
        """(height, width) of the picture inside the model input: SAM's resized size before padding."""
        if self.padded:
            return tuple(int(v) for v in inputs["reshaped_input_sizes"][0])  # type: ignore[return-value]
        return tuple(int(v) for v in inputs["pixel_values"].shape[-2:])  # type: ignore[return-value]

    def _upsample(self, low_res: torch.Tensor, size: tuple[int, int], content: tuple[int, int], cut: float) -> Any:
        """(1, 1, h, w) mask logits -> a boolean (height, width) mask at the displayed size."""
        height_width = [(size[1], size[0])]
        if self.padded:
            masks = self.processor.post_process_masks(
                [low_res], height_width, [content], mask_threshold=cut, binarize=True
            )
        else:
            masks = self.processor.post_process_masks([low_res], height_width, mask_threshold=cut, binarize=True)
        return masks[0][0, 0].cpu().numpy()

    @torch.inference_mode()
    def segment(
        self, pixels: Image.Image, size: tuple[int, int], boxes: torch.Tensor, threshold: float
    ) -> Iterator[BoxMask]:
        if len(boxes) == 0:
            return
        inputs = self.processor(images=pixels, return_tensors="pt")
        embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device, torch.float32))
        content_height, content_width = self._content_size(inputs)
        width, height = size
        scale = torch.tensor([content_width / width, content_height / height] * 2, dtype=torch.float64)
        cut = logit(threshold)
        for box in boxes:
            # A fresh (1, 1, 4) tensor per call: SAM 2's prompt encoder adds 0.5 to its boxes in place.
            prompt = (box.to(torch.float64) * scale).to(torch.float32).view(1, 1, 4).to(self.device)
            out = self.model(image_embeddings=embeddings, input_boxes=prompt, multimask_output=False)
            mask = self._upsample(out.pred_masks[0].float(), size, (content_height, content_width), cut)
            yield BoxMask(mask=mask, score=min(1.0, max(0.0, float(out.iou_scores[0, 0, 0]))))
