"""Match two detection lists box to box, to compare a variant (bfloat16, drafted decode, another
back end) with a reference.

With random weights a model's detections move under any tiny change of its input, so a variant
is judged against the model's noise floor: the same comparison for +-1 grey level of noise.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.ops import box_iou


@dataclass(frozen=True)
class Match:
    """For each reference detection: IoU with its matched candidate box, the score difference and the
    largest coordinate difference of the two boxes."""

    ious: list[float]
    score_diffs: list[float]
    box_diffs: list[float]

    @property
    def min_iou(self) -> float:
        return min(self.ious, default=1.0)

    @property
    def max_score_diff(self) -> float:
        return max(self.score_diffs, default=0.0)

    @property
    def max_box_diff(self) -> float:
        return max(self.box_diffs, default=0.0)


def match_detections(reference: Mapping[str, Any], candidate: Mapping[str, Any], top: int | None = None) -> Match:
    """Greedy matching, best reference score first: each reference box takes the free candidate box
    it overlaps most. Unmatched reference boxes count as IoU 0 and score difference 1."""
    ref_boxes, ref_scores = _top(reference, top)
    cand_boxes, cand_scores = _top(candidate, None)
    ious: list[float] = []
    diffs: list[float] = []
    box_diffs: list[float] = []
    free = torch.ones(len(cand_boxes), dtype=torch.bool)
    overlaps = box_iou(ref_boxes, cand_boxes) if len(ref_boxes) and len(cand_boxes) else None
    for row in range(len(ref_boxes)):
        if overlaps is None or not free.any():
            ious.append(0.0)
            diffs.append(1.0)
            box_diffs.append(1.0)
            continue
        candidates = overlaps[row].masked_fill(~free, -1.0)
        best = int(candidates.argmax())
        free[best] = False
        ious.append(float(candidates[best]))
        diffs.append(abs(float(ref_scores[row]) - float(cand_scores[best])))
        box_diffs.append(float((ref_boxes[row] - cand_boxes[best]).abs().max()))
    return Match(ious, diffs, box_diffs)


def query_detections(probs: torch.Tensor, boxes: torch.Tensor) -> dict[str, Any]:
    """One model answer's queries as a detection list, best first: score = best token probability,
    boxes as normalised corners (``probs`` (queries, tokens), ``boxes`` (queries, 4) cx, cy, w, h)."""
    scores, order = probs.max(dim=-1).values.sort(descending=True, stable=True)
    cx, cy, w, h = boxes[order].unbind(-1)
    corners = torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)
    return {"boxes": corners.tolist(), "scores": scores.tolist()}


@dataclass(frozen=True)
class QueryAgreement:
    """How many of a reference answer's best queries another answer has again (IoU above a bound),
    and the largest score and box differences among those."""

    matched: int
    top: int
    max_score_diff: float
    max_box_diff: float


def query_agreement(
    reference: tuple[torch.Tensor, torch.Tensor], candidate: tuple[torch.Tensor, torch.Tensor], top: int, iou: float
) -> QueryAgreement:
    """The ``top`` best queries of ``reference`` (probs, boxes of one answer) matched box to box
    with ``candidate``'s queries: the top-900 selection re-orders queries on any rounding change, so
    queries are compared by box, not by index."""
    match = match_detections(query_detections(*reference), query_detections(*candidate), top)
    found = [
        (score, box) for score, box, overlap in zip(match.score_diffs, match.box_diffs, match.ious) if overlap > iou
    ]
    return QueryAgreement(
        matched=len(found),
        top=top,
        max_score_diff=max((score for score, _ in found), default=0.0),
        max_box_diff=max((box for _, box in found), default=0.0),
    )


def _top(detections: Mapping[str, Any], top: int | None) -> tuple[torch.Tensor, Sequence[float]]:
    boxes = torch.tensor(detections["boxes"], dtype=torch.float32).reshape(-1, 4)
    scores = list(detections["scores"])
    return boxes[:top], scores[:top]


def mean_agreement(
    references: Sequence[Mapping[str, Any]], candidates: Sequence[Mapping[str, Any]], top: int
) -> tuple[float, float]:
    """Mean matched IoU and mean score difference of the top ``top`` detections over image pairs."""
    matches = [match_detections(r, c, top) for r, c in zip(references, candidates)]
    ious = [iou for match in matches for iou in match.ious]
    diffs = [diff for match in matches for diff in match.score_diffs]
    return sum(ious) / max(1, len(ious)), sum(diffs) / max(1, len(diffs))


def with_grey_level_noise(data: bytes, seed: int = 0) -> bytes:
    """``data`` decoded, changed by -1, 0 or +1 grey level per pixel, re-encoded losslessly (PNG).

    A change nobody can see: how far it moves a model's detections is that model's noise floor.
    """
    pixels = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"), dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-1, 2, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
