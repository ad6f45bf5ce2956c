"""The prompt modes as requests: vocabularies, entities, referring expressions, classes_per_chunk, and every 400.

No model: request parsing, the prompt chunks and their token spans, box selection and scores on
hand-made token probabilities. Served answers of each mode: tests/integration/test_prompt_modes_served.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer

from gdino_serve.paths import BERT_DIR
from handler.backends.bert_tokens import BertTokens
from handler.contract.errors import ErrorType, InvalidInput
from handler.contract.vocabulary import load_vocabulary
from handler.core.batching import RawDetections, best_token
from handler.core.pipeline import request_prompt
from handler.core.postprocess import build_detections
from handler.core.request import DetectionRequest, parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.http.replies import error_status
from tests.support.fuzz_inputs import FUZZ, json_values

SETTINGS = HandlerSettings()
WATERMELON = "The picture contains watermelon, flower, and a white bottle."
# [CLS] the picture contains water ##mel ##on , flower , and a white bottle . [SEP]
#   0    1     2       3       4     5    6   7    8   9  10 11  12    13   14   15


@pytest.fixture(scope="module")
def tokens() -> BertTokens:
    return BertTokens(AutoTokenizer.from_pretrained(str(BERT_DIR)))


def parse(**fields: Any) -> DetectionRequest:
    return parse_request({"image": b"image bytes", **fields}, SETTINGS)


def refused(**fields: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        parse(**fields)
    assert error_status(error.value) == 400
    return error.value


def prompt_of(tokens: BertTokens, **fields: Any):
    return request_prompt(parse(**fields), tokens, 256)


def refused_prompt(tokens: BertTokens, **fields: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        prompt_of(tokens, **fields)
    return error.value


# ---- vocabularies ----


def test_a_vocabulary_labels_boxes_with_the_dataset_names_and_reads_the_cleaned_names() -> None:
    request = parse(vocabulary="lvis")
    lvis = load_vocabulary("lvis")
    assert request.classes == lvis.labels and request.classes[0] == "aerosol_can"
    assert request.caption.startswith("aerosol can . air conditioner . airplane .")
    assert parse(vocabulary=b"COCO").classes == load_vocabulary("coco").labels  # multipart text, any case


def test_lvis_is_split_into_chunks_that_together_hold_every_class(tokens: BertTokens) -> None:
    prompt = prompt_of(tokens, vocabulary="lvis")
    assert len(prompt.chunks) == 14 and prompt.labels == load_vocabulary("lvis").labels
    assert torch.cat([chunk.class_ids for chunk in prompt.chunks]).tolist() == list(range(1203))
    assert all(len(chunk.tokens.input_ids) <= 256 and chunk.score_tokens is None for chunk in prompt.chunks)


def test_an_unknown_vocabulary_is_a_400_that_lists_the_known_ones() -> None:
    error = refused(vocabulary="coco2014")
    assert (
        error.error_type == ErrorType.UNKNOWN_VOCABULARY and "coco, lvis, objects365, voc, cityscapes" in error.message
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"vocabulary": "coco", "classes": ["cat"]},
        {"vocabulary": "coco", "caption": "cat"},
        {"caption": "cat", "classes": ["cat"]},
        {"vocabulary": "coco", "caption": "cat", "classes": ["cat"]},
    ],
)
def test_two_of_vocabulary_classes_and_caption_is_a_400_naming_them(fields: dict[str, Any]) -> None:
    error = refused(**fields)
    assert error.error_type == ErrorType.INVALID_PARAMETER
    assert "send one of 'caption', 'classes' or 'vocabulary'" in error.message
    assert all(f"'{name}'" in error.message.split(", not ")[1] for name in fields)


def test_none_of_them_is_a_400_missing_field() -> None:
    assert refused().error_type == ErrorType.MISSING_FIELD


# ---- classes_per_chunk ----


def test_classes_per_chunk_splits_by_class_count_like_mmdetections_chunked_size(tokens: BertTokens) -> None:
    prompt = prompt_of(tokens, vocabulary="lvis", classes_per_chunk=40)
    assert [len(chunk.class_ids) for chunk in prompt.chunks] == [40] * 30 + [3]
    assert torch.cat([chunk.class_ids for chunk in prompt.chunks]).tolist() == list(range(1203))
    (first, *_) = prompt_of(tokens, classes=["cat", "dog", "hard hat"], classes_per_chunk=b"2").chunks
    assert first.caption == "cat . dog ." and first.class_ids.tolist() == [0, 1]


def test_a_caption_is_chunked_by_its_phrases(tokens: BertTokens) -> None:
    chunks = prompt_of(tokens, caption="cat . dog . bird", classes_per_chunk=1).chunks
    assert [chunk.caption for chunk in chunks] == ["cat .", "dog .", "bird."]


def test_a_chunk_past_the_models_tokens_is_a_400_that_names_the_chunk(tokens: BertTokens) -> None:
    error = refused_prompt(tokens, vocabulary="lvis", classes_per_chunk=200)
    assert error.error_type == ErrorType.PROMPT_TOO_LONG
    assert "'classes_per_chunk' 200" in error.message and "chunk 0 (classes 0 to 199)" in error.message


@pytest.mark.parametrize("value", [0, 257, -1, 1.5, True, "many", b""])
def test_classes_per_chunk_out_of_range_or_not_a_whole_number_is_a_400_naming_it(value: Any) -> None:
    error = refused(vocabulary="coco", classes_per_chunk=value)
    assert error.error_type == ErrorType.INVALID_PARAMETER and "'classes_per_chunk'" in error.message
    assert "[1, 256]" in error.message


def test_classes_per_chunk_with_entities_or_referring_is_a_400() -> None:
    for grounding in ({"entities": [[0, 3]]}, {"referring": True}):
        error = refused(caption="red apple", classes_per_chunk=2, **grounding)
        assert error.error_type == ErrorType.INVALID_PARAMETER and "'classes_per_chunk'" in error.message


# ---- entities ----


def test_entities_are_the_only_classes_and_the_only_tokens_a_box_scores_on(tokens: BertTokens) -> None:
    request = parse(caption=WATERMELON, entities=[[21, 31], [[45, 59]]])
    assert request.classes == ("watermelon", "a white bottle")
    assert request.caption == WATERMELON.lower()  # character for character: the spans index it
    (chunk,) = request_prompt(request, tokens, 256).chunks
    assert chunk.token_class[:16].tolist() == [-1, -1, -1, -1, 0, 0, 0, -1, -1, -1, -1, 1, 1, 1, -1, -1]
    assert chunk.score_tokens is not None and chunk.score_tokens.nonzero().flatten().tolist() == [4, 5, 6, 11, 12, 13]
    assert chunk.phrase_tokens[:16].nonzero().flatten().tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]


def test_an_entity_of_several_spans_is_labelled_with_their_text(tokens: BertTokens) -> None:
    request = parse(caption="Two surfers ride a wave", entities=[[[0, 3], [4, 11]], [19, 23]])
    assert request.classes == ("Two / surfers", "wave")
    assert request.caption == "two surfers ride a wave."
    (chunk,) = request_prompt(request, tokens, 256).chunks
    assert chunk.class_ids.tolist() == [0, 1] and (chunk.token_class == 0).sum() == 3  # two surfer ##s


def test_entities_in_a_multipart_request_are_json_text() -> None:
    assert parse(caption=b"red apple", entities=b"[[0, 3], [4, 9]]").classes == ("red", "apple")
    error = refused(caption=b"red apple", entities=b"[[0, 3]")
    assert error.error_type == ErrorType.INVALID_ENTITIES and "'entities' must be JSON" in error.message


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        (5, "must be a non-empty list"),
        ([], "must be a non-empty list"),
        ({"spans": [[0, 3]]}, "must be a non-empty list"),
        ([[0, 3, 5]], "entities[0] must be a [start, end] span"),
        ([[0, 3], ["4", 9]], "entities[1] must be a [start, end] span"),
        ([[[0, 3]], [[True, 9]]], "entities[1] must be a [start, end] span"),
        ([[[0, 3]], []], "entities[1] must be a [start, end] span"),
        ([[0, 3]] * 257, "the limit is 256"),
    ],
)
def test_entities_of_the_wrong_shape_are_a_400_naming_the_entity(entities: Any, message: str) -> None:
    error = refused(caption="red apple", entities=entities)
    assert error.error_type == ErrorType.INVALID_ENTITIES and message in error.message


@pytest.mark.parametrize(
    ("entities", "message"),
    [
        ([[0, 3], [4, 12]], "entities[1] ('apple'): span [4, 12] is outside the caption (characters 0 to 9"),
        ([[-1, 3]], "entities[0] ('red'): span [-1, 3] is outside the caption"),
        ([[0, 3], [4, 4]], "entities[1]: span [4, 4] is empty"),
        ([[5, 2]], "entities[0]: span [5, 2] is empty"),
        ([[0, 5], [4, 9]], "entities[0] ('red a') and entities[1] ('apple') overlap at characters 4:5 ('a')"),
        ([[[0, 5], [2, 9]]], "entities[0] ('red a / d apple'): spans [0, 5] and [2, 9] overlap at characters 2:5"),
    ],
)
def test_spans_out_of_range_empty_or_overlapping_are_a_400_naming_the_entity(entities: Any, message: str) -> None:
    error = refused(caption="red apple", entities=entities)
    assert error.error_type == ErrorType.INVALID_ENTITIES
    assert message in error.message


def test_a_span_cutting_a_word_piece_is_a_400_with_the_span_that_fits(tokens: BertTokens) -> None:
    # MMDetection's own usage example: [21, 30] is 'watermelo', which it silently widens.
    error = refused_prompt(tokens, caption=WATERMELON, entities=[[[21, 30]], [[45, 59]]])
    assert error.error_type == ErrorType.INVALID_ENTITIES
    assert error.message == (
        "entities[0] ('watermelo'): span [21, 30] cuts the word piece 'on' (characters 29:31); spans start and "
        "end on word-piece boundaries, e.g. [21, 31] ('watermelon')"
    )
    assert (
        "entities[1] ('ite bot')" in refused_prompt(tokens, caption=WATERMELON, entities=[[21, 31], [49, 56]]).message
    )


def test_a_span_holding_no_word_is_a_400(tokens: BertTokens) -> None:
    error = refused_prompt(tokens, caption="red apple. green pear", entities=[[0, 3], [9, 11]])
    assert error.error_type == ErrorType.INVALID_ENTITIES
    assert "entities[1] ('. '): its spans hold no word the model can read" in error.message


def test_a_caption_with_entities_past_the_models_tokens_is_a_400_naming_the_entities_past_it(
    tokens: BertTokens,
) -> None:
    caption = "cat " * 300 + "dog"
    error = refused_prompt(tokens, caption=caption, entities=[[0, 3], [1200, 1203]])
    assert error.error_type == ErrorType.PROMPT_TOO_LONG
    assert "304 tokens long" in error.message and "past the limit: entities[1] ('dog')" in error.message


def test_entities_without_a_caption_or_with_referring_are_a_400() -> None:
    assert "'entities' needs a 'caption'" in refused(classes=["cat"], entities=[[0, 3]]).message
    assert "either 'entities' or 'referring'" in refused(caption="cat", entities=[[0, 3]], referring=True).message


# ---- referring expressions ----


def test_referring_makes_the_whole_caption_one_entity_labelled_with_it(tokens: BertTokens) -> None:
    request = parse(caption="  The red apple on the LEFT ", referring=True)
    assert request.classes == ("The red apple on the LEFT",) and request.entities == (((2, 27),),)
    (chunk,) = request_prompt(request, tokens, 256).chunks
    assert chunk.caption == "  the red apple on the left ."
    assert chunk.score_tokens is not None and torch.equal(chunk.score_tokens, chunk.phrase_tokens)
    assert chunk.class_ids.tolist() == [0]


@pytest.mark.parametrize("fields", [{"classes": ["cat"]}, {"vocabulary": "coco"}, {}])
def test_referring_without_a_caption_is_a_400(fields: dict[str, Any]) -> None:
    error = refused(referring=True, **fields)
    assert error.error_type in (ErrorType.INVALID_PARAMETER, ErrorType.MISSING_FIELD)
    assert "'referring' needs a 'caption'" in error.message or "is required" in error.message


def test_referring_false_changes_nothing_and_a_bad_flag_is_a_400() -> None:
    assert parse(classes=["cat"], referring=b"false").entities is None
    assert "'referring' must be true or false" in refused(caption="cat", referring="maybe").message


# ---- scores of entity prompts ----


def test_words_outside_the_entities_neither_pass_a_box_nor_score_it(tokens: BertTokens) -> None:
    request = parse(caption=WATERMELON, entities=[[21, 31], [45, 59]], box_threshold=0.3)
    prompt = request_prompt(request, tokens, 256)
    (chunk,) = prompt.chunks
    probs = torch.full((2, 256), 0.05)
    probs[0, 2] = 0.99  # 'picture': not an entity
    probs[1, 2], probs[1, 12] = 0.99, 0.6  # 'picture' and 'white'
    assert best_token(probs, chunk.score_tokens).tolist() == pytest.approx([0.05, 0.6])
    kept = best_token(probs, chunk.score_tokens) > request.box_threshold
    raw = RawDetections(probs=probs[kept], boxes=torch.tensor([[0.5, 0.5, 0.2, 0.2]]))
    answer = build_detections([raw], prompt, request, (100, 100), tokens)
    assert answer.labels == ("a white bottle",) and answer.scores.tolist() == pytest.approx([0.6])
    assert answer.phrases == ("picture white",)  # phrases read every word, as for other prompts


def test_a_class_list_keeps_scoring_on_every_token(tokens: BertTokens) -> None:
    (chunk,) = prompt_of(tokens, classes=["cat", "dog"]).chunks
    assert chunk.score_tokens is None
    probs = torch.full((1, 256), 0.1)
    probs[0, 0] = 0.9  # [CLS], as today: the best token of any position
    assert best_token(probs, chunk.score_tokens).tolist() == pytest.approx([0.9])


def test_an_entities_field_of_json_text_in_a_json_body_is_read_too() -> None:
    assert parse(caption="red apple", entities=json.dumps([[4, 9]])).classes == ("apple",)


# ---- fuzzing ----


@FUZZ
@given(data=st.data())
def test_any_caption_and_spans_give_a_prompt_or_a_400(tokens: BertTokens, data: st.DataObject) -> None:
    """Random text (any Unicode) and spans near its bounds: a prompt whose entities all hold tokens, or a 400."""
    caption = data.draw(st.text(max_size=40))
    span = st.lists(st.integers(-1, len(caption) + 1), min_size=2, max_size=2)
    entity = span | st.lists(span, min_size=1, max_size=3)
    entities = data.draw(st.lists(entity, min_size=1, max_size=4) | json_values)
    try:
        request = parse(caption=caption, entities=entities)
        prompt = request_prompt(request, tokens, 256)
    except InvalidInput as error:
        assert error_status(error) == 400
        return
    (chunk,) = prompt.chunks
    assert len(request.caption) in (len(caption), len(caption) + 1)  # offsets kept, '.' appended
    assert set(chunk.token_class[chunk.token_class >= 0].tolist()) == set(range(len(prompt.labels)))
    assert prompt.labels == tuple(" / ".join(caption[s:e] for s, e in spans) for spans in request.entities)
