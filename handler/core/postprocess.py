"""Stage 5: thresholded queries to :class:`Detections`: boxes, scores, matched phrases and classes.

Semantics follow the reference ``predict`` of upstream GroundingDINO: a box's score is its best
token probability (among the entities' tokens for an entities or referring prompt); its phrase is the caption's tokens whose probability exceeds
``text_threshold``, decoded as text, without special tokens or dots. On top of that every box
gets the class whose tokens score highest (:func:`handler.core.prompt.assign_classes`); the
detections of a prompt's chunks are merged, optionally suppressed (NMS) and cut to
``max_detections``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from handler.core.batching import RawDetections, best_token
from handler.core.box_format import format_boxes, to_pixel_boxes
from handler.core.detections import Detections
from handler.core.nms import keep_detections
from handler.core.prompt import Prompt, PromptChunk, assign_classes
from handler.core.request import DetectionRequest
from handler.core.tokens import TextTokenizer


def phrase(probs: torch.Tensor, chunk: PromptChunk, text_threshold: float, tokenizer: TextTokenizer) -> str:
    """The matched text of one box's token probabilities ``probs`` (max_text_len,)."""
    selected = (probs > text_threshold) & chunk.phrase_tokens
    ids = [chunk.tokens.input_ids[i] for i in selected.nonzero().flatten().tolist()]
    return " ".join(tokenizer.decode(ids).replace(".", " ").split())


def build_detections(
    raws: Sequence[RawDetections],
    prompt: Prompt,
    request: DetectionRequest,
    size: tuple[int, int],
    tokenizer: TextTokenizer,
) -> Detections:
    """The answer for one request from its chunks' detections, highest score first."""
    probs = torch.cat([raw.probs for raw in raws])
    chunk_of = torch.cat([torch.full((len(raw.probs),), k, dtype=torch.long) for k, raw in enumerate(raws)])
    class_ids = torch.cat([assign_classes(raw.probs, chunk) for raw, chunk in zip(raws, prompt.chunks)])
    scores = torch.cat([best_token(raw.probs, chunk.score_tokens) for raw, chunk in zip(raws, prompt.chunks)])
    boxes = to_pixel_boxes(torch.cat([raw.boxes for raw in raws]), size)
    keep = keep_detections(
        boxes, scores, class_ids, request.nms_threshold, request.class_agnostic_nms, request.max_detections
    )
    return Detections(
        boxes=format_boxes(boxes[keep], size, request.box_format, request.normalized),
        scores=scores[keep],
        class_ids=class_ids[keep],
        labels=tuple(prompt.labels[class_id] for class_id in class_ids[keep].tolist()),
        phrases=tuple(
            phrase(probs[i], prompt.chunks[chunk_of[i]], request.text_threshold, tokenizer) for i in keep.tolist()
        ),
        image_size=(int(size[0]), int(size[1])),
        normalized=request.normalized,
        pixel_boxes=boxes[keep],
    )
