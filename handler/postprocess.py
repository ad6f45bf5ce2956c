"""Stage 5: thresholded queries to the response: pixel boxes, scores and matched phrases.

Semantics follow ``groundingdino.util.inference.predict``: a box's score is its best token
probability; its phrase is the caption's tokens whose probability exceeds ``text_threshold``,
decoded as text, without special tokens or dots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torchvision.ops import box_convert

from handler.inference import RawDetections


@dataclass(frozen=True)
class CaptionTokens:
    """A caption's token ids (as the model sees them) and which of them can be part of a phrase."""

    input_ids: list[int]
    phrase_token: torch.Tensor  # bool, (max_text_len,): True where the token is a word piece

    @classmethod
    def build(cls, caption: str, tokenizer: Any, max_text_len: int = 256) -> "CaptionTokens":
        input_ids = tokenizer(caption)["input_ids"][:max_text_len]
        excluded = set(tokenizer.all_special_ids) | set(tokenizer.convert_tokens_to_ids(["."]))
        mask = torch.zeros(max_text_len, dtype=torch.bool)
        mask[: len(input_ids)] = torch.tensor([token not in excluded for token in input_ids], dtype=torch.bool)
        return cls(input_ids=input_ids, phrase_token=mask)


def phrases(probs: torch.Tensor, tokens: CaptionTokens, text_threshold: float, tokenizer: Any) -> list[str]:
    """The matched text of each row of ``probs`` (n, max_text_len)."""
    selected = (probs > text_threshold) & tokens.phrase_token
    result = []
    for row in selected:
        ids = [tokens.input_ids[i] for i in row.nonzero().flatten().tolist()]
        result.append(" ".join(tokenizer.decode(ids).replace(".", " ").split()))
    return result


def to_pixel_boxes(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Normalised (cx, cy, w, h) to pixel (x1, y1, x2, y2), clipped to the image."""
    width, height = size
    scale = torch.tensor([width, height, width, height], dtype=boxes.dtype)
    xyxy = box_convert(boxes * scale, in_fmt="cxcywh", out_fmt="xyxy")
    xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, width)
    xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, height)
    return xyxy


def build_response(
    raw: RawDetections, tokens: CaptionTokens, text_threshold: float, size: tuple[int, int], tokenizer: Any
) -> dict[str, Any]:
    """The JSON-ready answer for one request, detections sorted by score (highest first)."""
    scores = raw.probs.max(dim=-1).values if len(raw.probs) else torch.zeros(0)
    order = torch.argsort(scores, descending=True, stable=True)
    probs, scores = raw.probs[order], scores[order]
    boxes = to_pixel_boxes(raw.boxes[order], size)
    return {
        "boxes": [[round(float(v), 2) for v in box] for box in boxes.tolist()],
        "scores": [round(float(s), 4) for s in scores.tolist()],
        "phrases": phrases(probs, tokens, text_threshold, tokenizer),
        "image_size": [int(size[0]), int(size[1])],
    }

