"""Stage 5: thresholded queries to the response: boxes, scores, matched phrases and classes.

Semantics follow ``groundingdino.util.inference.predict``: a box's score is its best token
probability; its phrase is the caption's tokens whose probability exceeds ``text_threshold``,
decoded as text, without special tokens or dots. On top of that every box gets the class whose
tokens score highest (:func:`handler.core.prompt.assign_classes`); the detections of a prompt's
chunks are merged, optionally suppressed (NMS) and cut to ``max_detections``.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from handler.core.box_format import format_boxes, to_pixel_boxes
from handler.core.batching import RawDetections
from handler.core.nms import keep_detections
from handler.core.prompt import Prompt, PromptChunk, assign_classes
from handler.core.request import DetectionRequest


def phrase(probs: torch.Tensor, chunk: PromptChunk, text_threshold: float, tokenizer: Any) -> str:
    """The matched text of one box's token probabilities ``probs`` (max_text_len,)."""
    selected = (probs > text_threshold) & chunk.phrase_tokens
    ids = [chunk.tokens.input_ids[i] for i in selected.nonzero().flatten().tolist()]
    return " ".join(tokenizer.decode(ids).replace(".", " ").split())


def build_response(
    raws: Sequence[RawDetections],
    prompt: Prompt,
    request: DetectionRequest,
    size: tuple[int, int],
    tokenizer: Any,
) -> dict[str, Any]:
    """The JSON-ready answer for one request from its chunks' detections, highest score first."""
    probs = torch.cat([raw.probs for raw in raws])
    chunk_of = torch.cat([torch.full((len(raw.probs),), k, dtype=torch.long) for k, raw in enumerate(raws)])
    class_ids = torch.cat([assign_classes(raw.probs, chunk) for raw, chunk in zip(raws, prompt.chunks)])
    scores = probs.max(dim=-1).values
    boxes = to_pixel_boxes(torch.cat([raw.boxes for raw in raws]), size)
    keep = keep_detections(
        boxes, scores, class_ids, request.nms_threshold, request.class_agnostic_nms, request.max_detections
    ).tolist()
    return {
        "boxes": format_boxes(boxes[keep], size, request.box_format, request.normalized),
        "scores": [round(float(scores[i]), 6) for i in keep],
        "phrases": [
            phrase(probs[i], prompt.chunks[chunk_of[i]], request.text_threshold, tokenizer) for i in keep
        ],
        "labels": [prompt.labels[class_ids[i]] for i in keep],
        "class_ids": [int(class_ids[i]) for i in keep],
        "image_size": [int(size[0]), int(size[1])],
    }
