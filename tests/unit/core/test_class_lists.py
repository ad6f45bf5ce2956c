"""Class lists: validation and token spans (no model; the class id of every box: tests/model/test_class_labels.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from gdino_serve.paths import BERT_DIR
from handler.backends.bert_tokens import BertTokens
from handler.contract.class_names import MAX_CLASS_CHARS, MAX_CLASSES
from handler.contract.errors import InvalidInput
from handler.core.prompt import assign_classes, build_prompt
from handler.core.request import parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.http.replies import error_status
from tests.support.model_inputs import COCO


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(str(BERT_DIR))


def _classes(value: Any) -> tuple[str, ...] | None:
    return parse_request({"image": b"image bytes", "classes": value}, HandlerSettings()).classes


def test_coco_list_has_80_names() -> None:
    assert len(COCO) == 80 and len(set(COCO)) == 80


def test_token_spans_cover_every_word_piece_of_each_class(tokenizer: Any) -> None:
    classes = ["thingamajig", "hard hat", "steel-pipe"]
    (chunk,) = build_prompt("thingamajig . hard hat . steel-pipe .", BertTokens(tokenizer), classes).chunks
    for class_id, name in enumerate(classes):
        positions = (chunk.token_class == class_id).nonzero().flatten().tolist()
        assert [chunk.tokens.input_ids[p] for p in positions] == tokenizer(name, add_special_tokens=False)["input_ids"]


def test_box_goes_to_the_class_with_the_highest_token_probability(tokenizer: Any) -> None:
    (chunk,) = build_prompt("person . hard hat .", BertTokens(tokenizer)).chunks  # [CLS] person . hard hat . [SEP]
    probs = torch.zeros(2, 256)
    probs[0, [1, 3, 4]] = torch.tensor([0.8, 0.1, 0.9])  # 'hat' is the best token: max beats mean here
    probs[1, [0, 1, 2, 3]] = torch.tensor([0.99, 0.6, 0.95, 0.5])  # [CLS] and '.' belong to no class
    assert assign_classes(probs, chunk).tolist() == [1, 0]


def test_tied_class_scores_go_to_the_earlier_class(tokenizer: Any) -> None:
    (chunk,) = build_prompt("person . hard hat .", BertTokens(tokenizer)).chunks
    probs = torch.zeros(1, 256)
    probs[0, [1, 4]] = 0.7
    assert assign_classes(probs, chunk).tolist() == [0]


def test_multipart_classes_as_json_list_text_or_one_per_line() -> None:
    expected = ("person", "Hard hat", "steel pipe")
    assert _classes(json.dumps(list(expected)).encode()) == expected
    assert _classes(b"person\nHard hat\r\n\nsteel pipe\n") == expected
    assert _classes(list(expected)) == expected


def test_json_string_classes_is_refused_with_a_400_saying_classes_must_be_a_list() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_request({"image": b"x", "classes": "cat, dog"}, HandlerSettings())
    assert "must be a list" in error.value.message and error_status(error.value) == 400


def test_caption_is_built_from_classes_in_lower_case() -> None:
    request = parse_request({"image": b"x", "classes": ["Person", " hard  hat "]}, HandlerSettings())
    assert request.caption == "person . hard hat ."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["person", "Hard Hat", "hard hat "], "duplicate class 'hard hat '"),
        ([], "empty"),
        (["person", "  "], r"classes\[1\] is empty"),
        (["person", 3], r"classes\[1\] must be a string"),
        (["x" * (MAX_CLASS_CHARS + 1)], "limit is 256"),
        ([f"c{i}" for i in range(MAX_CLASSES + 1)], "limit is 2000"),
        (["st. bernard"], "contains '.'"),
        ({"person": 1}, "must be a list"),
        (7, "must be a list"),
        (b"[person, dog]", "not a JSON list"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_bad_class_list_is_a_400_saying_why(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as error:
        _classes(value)
    assert error_status(error.value) == 400


def test_caption_and_classes_together_is_a_400() -> None:
    with pytest.raises(InvalidInput, match="one of 'caption', 'classes' or 'vocabulary', not 'caption' and 'classes'"):
        parse_request({"image": b"x", "caption": "cat", "classes": ["dog"]}, HandlerSettings())


def test_neither_caption_nor_classes_is_a_400() -> None:
    with pytest.raises(InvalidInput, match="'caption' or 'classes' is required"):
        parse_request({"image": b"x"}, HandlerSettings())


def test_stray_dots_in_a_caption_do_not_shift_class_ids(tokenizer: Any) -> None:
    prompt = build_prompt(". cat .. dog . .", BertTokens(tokenizer))
    (chunk,) = prompt.chunks
    assert prompt.labels == ("cat", "dog") and chunk.caption == ". cat .. dog . ."
    positions = {class_id: (chunk.token_class == class_id).nonzero().flatten().tolist() for class_id in (0, 1)}
    assert [chunk.tokens.input_ids[positions[0][0]], chunk.tokens.input_ids[positions[1][0]]] == (
        tokenizer("cat dog", add_special_tokens=False)["input_ids"]
    )
