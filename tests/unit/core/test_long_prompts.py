"""Prompts past the model's 256-token limit: split at class boundaries, one backbone pass, merged."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from handler.backends.bert_tokens import BertTokens
from handler.core.pipeline import DetectionPipeline
from handler.core.prompt import build_prompt
from handler.core.request import parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.torchserve.answers import answer_bodies
from handler.testing import NAMES_400, REPO


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(str(REPO / "bert-base-uncased"))


def _prompt(names: list[str], tokenizer: Any):
    request = parse_request({"image": b"x", "classes": names}, HandlerSettings())
    return build_prompt(request.caption, BertTokens(tokenizer), request.classes)


def test_400_names_are_distinct_and_past_the_token_limit(tokenizer: Any) -> None:
    assert len(set(NAMES_400)) == 400
    assert len(tokenizer(" . ".join(NAMES_400) + " .")["input_ids"]) > 256


def test_long_class_list_is_split_into_chunks_the_model_reads_untruncated(tokenizer: Any) -> None:
    prompt = _prompt(NAMES_400, tokenizer)
    assert len(prompt.chunks) > 1
    for chunk in prompt.chunks:
        model_reads = tokenizer(chunk.caption)["input_ids"]  # what GroundingDINO tokenizes from the text
        assert model_reads == chunk.tokens.input_ids and len(model_reads) <= 256


def test_every_class_is_in_exactly_one_chunk_with_all_its_tokens(tokenizer: Any) -> None:
    prompt = _prompt(NAMES_400, tokenizer)
    reachable = []
    for chunk in prompt.chunks:
        for local, class_id in enumerate(chunk.class_ids.tolist()):
            positions = (chunk.token_class == local).nonzero().flatten().tolist()
            expected = tokenizer(NAMES_400[class_id], add_special_tokens=False)["input_ids"]
            assert [chunk.tokens.input_ids[p] for p in positions] == expected
            reachable.append(class_id)
    assert sorted(reachable) == list(range(400))


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


def test_long_caption_is_split_at_its_dots_like_the_same_class_list(tokenizer: Any) -> None:
    names = NAMES_400[:200]  # a caption is limited to 4096 characters
    caption = parse_request({"image": b"x", "caption": " . ".join(names)}, HandlerSettings()).caption
    by_caption, by_classes = build_prompt(caption, BertTokens(tokenizer)), _prompt(names, tokenizer)
    assert len(by_caption.chunks) > 1
    tokens = [[chunk.tokens.input_ids for chunk in prompt.chunks] for prompt in (by_caption, by_classes)]
    assert tokens[0] == tokens[1]
    assert by_caption.labels == by_classes.labels == tuple(names)
