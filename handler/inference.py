"""Stage 4: batched model calls whose answers equal each input's answer alone.

Which inputs may share a model call without changing each other's answer (with
:mod:`handler.upstream_fixes` applied, which runs the text side and the fusion per item):

* images of one shape only: padding images to a common size changes the Swin features;
* captions of one token length only: a padded caption is computed with other reduction
  orders, a float-rounding difference that the top-900 query selection can turn into other
  queries (0.155 in token probabilities measured on the full Swin-T config);
* on CPU with several threads, one image per backbone pass and one caption per model call:
  MKL then picks its GEMM decomposition by matrix shape, so an item's rounding depends on the
  batch size (7e-7 in the encoder at 8 images, enough to change the selected queries). With the
  shapes of a solo run, a batched answer is bitwise the solo answer. On one thread the GEMMs
  were bitwise batch-invariant (8 images), so a CPU worker with one thread batches as CUDA does:
  one worker per core with one thread each is the fast exact CPU set-up.

The backbone runs once per distinct image (at most ``max_images`` same-shape images a pass) and
its features are shared by every caption that reads the image, in as many model calls as needed
(at most ``max_captions`` equal-length captions a call).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Hashable, Sequence

import torch
from torch import nn

from handler.shared_image import ImageFeatures, distinct_images, encode_images, forward_captions


@dataclass(frozen=True)
class RawDetections:
    """Queries of one image whose best token probability exceeds the box threshold (on CPU)."""

    probs: torch.Tensor  # (n, max_text_len) sigmoid token probabilities
    boxes: torch.Tensor  # (n, 4) normalised cx, cy, w, h


@dataclass(frozen=True)
class ModelInput:
    """What the model needs for one caption; inputs holding the same image tensor share its backbone pass."""

    image: torch.Tensor  # (3, H, W), normalised
    caption: str  # already normalised (lower case, ends with '.')
    box_threshold: float


@dataclass(frozen=True)
class CallLimits:
    """How much one backbone pass and one model call may hold."""

    max_images: int
    max_captions: int

    @classmethod
    def for_device(cls, device: torch.device, max_sub_batch: int) -> "CallLimits":
        """``max_sub_batch`` on CUDA and one-thread CPU; one at a time on multi-threaded CPU."""
        size = max_sub_batch if device.type == "cuda" or torch.get_num_threads() == 1 else 1
        return cls(max_images=size, max_captions=size)


@dataclass(frozen=True)
class PlannedPass:
    """One backbone pass over ``images`` and the model calls (lists of input indices) that read it."""

    images: list[int]
    calls: list[list[int]]


def group_equal(keys: Sequence[Hashable], max_size: int) -> list[list[int]]:
    """Indices of equal keys together, in first-seen order, each group at most ``max_size`` long."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        groups[key].append(index)
    return [members[start : start + max_size] for members in groups.values() for start in range(0, len(members), max_size)]


def plan(
    shapes: Sequence[Hashable], owners: Sequence[int], lengths: Sequence[int], limits: CallLimits
) -> list[PlannedPass]:
    """Backbone passes over distinct images (``shapes``) and, per pass, calls over inputs of one length.

    Input ``i`` reads image ``owners[i]`` and has a caption of ``lengths[i]`` tokens.
    """
    passes = []
    for images in group_equal(shapes, limits.max_images):
        members = [index for index, owner in enumerate(owners) if owner in images]
        calls = group_equal([lengths[index] for index in members], limits.max_captions)
        passes.append(PlannedPass(images, [[members[i] for i in call] for call in calls]))
    return passes


def _select(probs: torch.Tensor, boxes: torch.Tensor, threshold: float) -> RawDetections:
    keep = probs.max(dim=-1).values > threshold
    return RawDetections(probs=probs[keep], boxes=boxes[keep])


def run_model(
    model: nn.Module, encoded: ImageFeatures, owners: Sequence[int], inputs: Sequence[ModelInput]
) -> list[RawDetections]:
    """One model call: ``inputs[i]`` reads image ``owners[i]`` of ``encoded``."""
    outputs = forward_captions(model, encoded, owners, [item.caption for item in inputs])
    # One device-to-host copy for the whole call (a few MB), not one synchronising copy per image.
    probs = outputs["pred_logits"].sigmoid().float().cpu()
    boxes = outputs["pred_boxes"].float().cpu()
    return [_select(probs[i], boxes[i], item.box_threshold) for i, item in enumerate(inputs)]


def token_lengths(model: nn.Module, captions: Sequence[str]) -> list[int]:
    """How many tokens the model reads for each caption (what it pads to within a call)."""
    return [len(ids) for ids in model.tokenizer(list(captions))["input_ids"]] if captions else []


@torch.inference_mode()
def predict_batch(
    model: nn.Module, inputs: Sequence[ModelInput], device: torch.device, limits: CallLimits
) -> list[RawDetections]:
    """Detections for every input, in input order, each equal to the input's answer alone."""
    results: dict[int, RawDetections] = {}
    distinct, owners = distinct_images([item.image for item in inputs])
    lengths = token_lengths(model, [item.caption for item in inputs])
    for planned in plan([tuple(image.shape) for image in distinct], owners, lengths, limits):
        stacked = torch.stack([distinct[i] for i in planned.images]).to(device, non_blocking=True)
        encoded = encode_images(model, stacked)
        slot = {image: position for position, image in enumerate(planned.images)}
        for call in planned.calls:
            answers = run_model(model, encoded, [slot[owners[i]] for i in call], [inputs[i] for i in call])
            results.update(zip(call, answers))
    return [results[index] for index in range(len(inputs))]
