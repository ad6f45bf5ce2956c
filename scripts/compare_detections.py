"""Match two detection lists box to box, to compare a variant (bfloat16, drafted decode) with a reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torchvision.ops import box_iou


@dataclass(frozen=True)
class Match:
    """For each reference detection: IoU with its matched candidate box and the score difference."""

    ious: list[float]
    score_diffs: list[float]

    @property
    def min_iou(self) -> float:
        return min(self.ious, default=1.0)

    @property
    def max_score_diff(self) -> float:
        return max(self.score_diffs, default=0.0)


def match_detections(reference: Mapping[str, Any], candidate: Mapping[str, Any], top: int | None = None) -> Match:
    """Greedy matching, best reference score first: each reference box takes the free candidate box
    it overlaps most. Unmatched reference boxes count as IoU 0 and score difference 1."""
    ref_boxes, ref_scores = _top(reference, top)
    cand_boxes, cand_scores = _top(candidate, None)
    ious: list[float] = []
    diffs: list[float] = []
    free = torch.ones(len(cand_boxes), dtype=torch.bool)
    overlaps = box_iou(ref_boxes, cand_boxes) if len(ref_boxes) and len(cand_boxes) else None
    for row in range(len(ref_boxes)):
        if overlaps is None or not free.any():
            ious.append(0.0)
            diffs.append(1.0)
            continue
        candidates = overlaps[row].masked_fill(~free, -1.0)
        best = int(candidates.argmax())
        free[best] = False
        ious.append(float(candidates[best]))
        diffs.append(abs(float(ref_scores[row]) - float(cand_scores[best])))
    return Match(ious, diffs)


def _top(detections: Mapping[str, Any], top: int | None) -> tuple[torch.Tensor, Sequence[float]]:
    boxes = torch.tensor(detections["boxes"], dtype=torch.float32).reshape(-1, 4)
    scores = list(detections["scores"])
    return boxes[:top], scores[:top]
