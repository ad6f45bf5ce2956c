"""Prompts past the model's 256-token limit: split at class boundaries, one backbone pass, merged."""

from __future__ import annotations

from typing import Any

import pytest
from transformers import AutoTokenizer

from gdino_serve.paths import BERT_DIR
from handler.backends.bert_tokens import BertTokens
from handler.core.prompt import build_prompt
from handler.core.request import parse_request
from handler.core.settings import HandlerSettings
from tests.support.model_inputs import NAMES_400


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(str(BERT_DIR))


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


def test_long_caption_is_split_at_its_dots_like_the_same_class_list(tokenizer: Any) -> None:
    names = NAMES_400[:200]  # a caption is limited to 4096 characters
    caption = parse_request({"image": b"x", "caption": " . ".join(names)}, HandlerSettings()).caption
    by_caption, by_classes = build_prompt(caption, BertTokens(tokenizer)), _prompt(names, tokenizer)
    assert len(by_caption.chunks) > 1
    tokens = [[chunk.tokens.input_ids for chunk in prompt.chunks] for prompt in (by_caption, by_classes)]
    assert tokens[0] == tokens[1]
    assert by_caption.labels == by_classes.labels == tuple(names)
