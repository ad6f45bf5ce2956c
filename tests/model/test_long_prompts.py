"""Prompts past the model's 256-token limit: split at class boundaries, one backbone pass, merged."""

from __future__ import annotations

from typing import Any

import torch

from handler.core.pipeline import DetectionPipeline
from handler.frontends.http.batch_answers import answer_bodies
from tests.support.model_inputs import NAMES_400


def test_400_classes_answer_with_valid_class_ids_on_every_box(
    pipeline: DetectionPipeline, photos: dict[str, bytes]
) -> None:
    request = {"image": photos["astronaut.png"], "classes": NAMES_400, "box_threshold": 0.8, "max_detections": 1000}
    response = answer_bodies(pipeline, [request])[0]
    assert response["boxes"]
    assert all(0 <= class_id < 400 for class_id in response["class_ids"])
    assert response["labels"] == [NAMES_400[class_id] for class_id in response["class_ids"]]
    assert len(set(response["class_ids"])) > 1  # boxes from more than one chunk's classes


def _detections(*responses: dict[str, Any]) -> torch.Tensor:
    """(n, 5) score and box rows of all ``responses``, in a fixed order."""
    rows = sorted((score, *box) for r in responses for score, box in zip(r["scores"], r["boxes"]))
    return torch.tensor(rows).reshape(-1, 5)


def _assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape and len(actual) > 0
    assert torch.allclose(actual, expected, atol=1e-4, rtol=0)


def test_chunked_prompt_uses_one_backbone_pass_and_equals_each_chunk_run_alone(
    pipeline: DetectionPipeline, photos: dict[str, bytes]
) -> None:
    names = NAMES_400[:120]
    common = {"image": photos["chelsea.png"], "box_threshold": 0.8, "max_detections": 1000, "normalized": True}
    chunks = pipeline.prepare({**common, "classes": names}).prompt.chunks
    assert len(chunks) > 1
    backbone_batches: list[int] = []
    hook = pipeline.detector.model.backbone.register_forward_hook(
        lambda _module, args, _output: backbone_batches.append(len(args[0].tensors))
    )
    try:
        merged = answer_bodies(pipeline, [{**common, "classes": names}])[0]
    finally:
        hook.remove()
    assert backbone_batches == [1]
    alone = [answer_bodies(pipeline, [{**common, "caption": chunk.caption}])[0] for chunk in chunks]
    _assert_same(_detections(merged), _detections(*alone))


def test_long_prompts_batched_equal_solo(pipeline: DetectionPipeline, photos: dict[str, bytes]) -> None:
    requests = [
        {"image": photos["chelsea.png"], "classes": NAMES_400[:90], "box_threshold": 0.8, "normalized": True},
        {"image": photos["coffee.png"], "caption": "cup", "box_threshold": 0.75, "normalized": True},
        {"image": photos["rocket.jpg"], "classes": NAMES_400[200:300], "box_threshold": 0.8, "normalized": True},
    ]
    batched = answer_bodies(pipeline, requests)
    for request, response in zip(requests, batched):
        (solo,) = answer_bodies(pipeline, [request])
        assert response["class_ids"] == solo["class_ids"]
        _assert_same(_detections(response), _detections(solo))


def test_one_phrase_longer_than_the_token_limit_is_a_400(pipeline: DetectionPipeline, photos: dict[str, bytes]) -> None:
    caption = " ".join(["word"] * 300)
    (outcome,) = answer_bodies(pipeline, [{"image": photos["coffee.png"], "caption": caption}])
    assert outcome["code"] == 400
    assert "301 tokens long" in outcome["message"]  # 300 words and the closing dot
