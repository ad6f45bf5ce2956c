"""Stage 4: batched model calls whose answers equal each input's answer alone.

Which inputs may share a model call without changing each other's answer (given a back end
whose items do not leak into each other, as each back end's ``batch_invariance`` module makes sure):

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
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch

from handler.core.detector import Detector


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
    score_tokens: torch.Tensor | None = None  # bool (max_text_len,): the tokens a box scores on; None: all


@dataclass(frozen=True)
class CallLimits:
    """How much one backbone pass and one model call may hold."""

    max_images: int
    max_captions: int

    @classmethod
    def for_device(cls, device: torch.device, max_sub_batch: int) -> CallLimits:
        """``max_sub_batch`` on CUDA and one-thread CPU; one at a time on multi-threaded CPU."""
        size = max_sub_batch if device.type == "cuda" or torch.get_num_threads() == 1 else 1
        return cls(max_images=size, max_captions=size)


@dataclass(frozen=True)
class PlannedPass:
    """One backbone pass over ``images`` and the model calls (lists of input indices) that read it."""

    images: list[int]
    calls: list[list[int]]


def distinct_images(images: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """The distinct image objects in first-seen order, and for each input the index of its image."""
    index_of: dict[int, int] = {}
    distinct: list[torch.Tensor] = []
    owners = []
    for image in images:
        if id(image) not in index_of:
            index_of[id(image)] = len(distinct)
            distinct.append(image)
        owners.append(index_of[id(image)])
    return distinct, owners


def group_equal(keys: Sequence[Hashable], max_size: int) -> list[list[int]]:
    """Indices of equal keys together, in first-seen order, each group at most ``max_size`` long."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        groups[key].append(index)
    return [
        members[start : start + max_size] for members in groups.values() for start in range(0, len(members), max_size)
    ]


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


def best_token(probs: torch.Tensor, score_tokens: torch.Tensor | None) -> torch.Tensor:
    """Each row's score: its best token probability, among ``score_tokens`` when given."""
    return (probs if score_tokens is None else probs[..., score_tokens]).max(dim=-1).values


def _select(probs: torch.Tensor, boxes: torch.Tensor, item: ModelInput) -> RawDetections:
    keep = best_token(probs, item.score_tokens) > item.box_threshold
    return RawDetections(probs=probs[keep], boxes=boxes[keep])


def token_lengths(detector: Detector, captions: Sequence[str]) -> list[int]:
    """How many tokens the model reads for each caption (what it pads to within a call)."""
    return [len(tokens.input_ids) for tokens in detector.tokenizer.tokenize(captions)] if captions else []


def predict_batch(detector: Detector, inputs: Sequence[ModelInput], limits: CallLimits) -> list[RawDetections]:
    """Detections for every input, in input order, each equal to the input's answer alone."""
    results: dict[int, RawDetections] = {}
    distinct, owners = distinct_images([item.image for item in inputs])
    lengths = token_lengths(detector, [item.caption for item in inputs])
    for planned in plan([tuple(image.shape) for image in distinct], owners, lengths, limits):
        encoded = detector.encode_images(torch.stack([distinct[i] for i in planned.images]))
        slot = {image: position for position, image in enumerate(planned.images)}
        for call in planned.calls:
            captions = [inputs[i].caption for i in call]
            scores = detector.decode(encoded, [slot[owners[i]] for i in call], captions)
            for row, index in enumerate(call):
                results[index] = _select(scores.probs[row], scores.boxes[row], inputs[index])
    return [results[index] for index in range(len(inputs))]
