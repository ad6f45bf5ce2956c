"""Phrase grounding and referring expressions: entities given as character spans of a free caption.

``"caption": "The picture contains watermelon, flower, and a white bottle."`` with
``"entities": [[21, 31], [45, 59]]`` asks for two things only, "watermelon" and "a white
bottle" (MMDetection's ``tokens_positive``; an entity may also be a list of spans, e.g.
``[[0, 3], [4, 11]]``). ``"referring": true`` makes the whole caption one entity.

Spans are ``[start, end]`` character offsets into the caption as sent, end exclusive (Python
code points). They are checked strictly, where MMDetection silently widens or drops them: a span
out of range, empty, overlapping another, cutting a word piece or covering none is refused with
an :class:`InvalidInput` that names the entity (and, for a cut word piece, the span that would fit).

The caption is one chunk (it cannot be split without cutting its sentence); each entity is a
class whose tokens are the word pieces inside its spans, and only those tokens score a box
(``score_tokens``), so the words around the entities ("the picture contains") cannot pass one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from handler.contract.errors import ErrorType, InvalidInput
from handler.core.prompt import CaptionTokens, Prompt, PromptChunk, word_tokens
from handler.core.tokens import TextTokenizer

Span = tuple[int, int]
EntitySpans = tuple[Span, ...]
MAX_ENTITIES = 256  # no caption has more word pieces than the model's 256 tokens
MAX_SPANS = 256  # per entity


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, ErrorType.INVALID_ENTITIES)


def _is_span(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    )


def parse_entities(value: Any) -> tuple[EntitySpans, ...]:
    """The ``entities`` field: per entity, a ``[start, end]`` span or a list of them (shape only)."""
    if not isinstance(value, list) or not value:
        raise _invalid(
            "'entities' must be a non-empty list of entities, each a [start, end] character span of the caption "
            "or a list of such spans, e.g. [[21, 31], [45, 59]]"
        )
    if len(value) > MAX_ENTITIES:
        raise _invalid(f"'entities' has {len(value)} entities; the limit is {MAX_ENTITIES}")
    entities = []
    for index, entity in enumerate(value):
        spans = [entity] if _is_span(entity) else entity
        if not isinstance(spans, list) or not spans or not all(_is_span(span) for span in spans):
            raise _invalid(
                f"entities[{index}] must be a [start, end] span (two integers) or a non-empty list of them, "
                f"got {entity!r}"[:300]
            )
        if len(spans) > MAX_SPANS:
            raise _invalid(f"entities[{index}] has {len(spans)} spans; the limit is {MAX_SPANS}")
        entities.append(tuple((start, end) for start, end in spans))
    return tuple(entities)


def entity_label(caption: str, spans: EntitySpans) -> str:
    """What a box of this entity is labelled with: its spans' text, joined by ' / ' (as MMDetection)."""
    return " / ".join(caption[start:end] for start, end in spans)


def _name(index: int, caption: str, spans: EntitySpans) -> str:
    """``entities[1] ('a white bottle')``: how errors name an entity."""
    text = " / ".join(caption[max(0, s) : max(0, e)] for s, e in spans if s < e)
    return f"entities[{index}] ({text[:60]!r})" if text.strip() else f"entities[{index}]"


def check_spans(caption: str, entities: Sequence[EntitySpans]) -> None:
    """Refuse spans out of range, empty, or overlapping (within an entity or across entities)."""
    size = len(caption)
    for index, spans in enumerate(entities):
        for start, end in spans:
            if start < 0 or end > size:
                raise _invalid(
                    f"{_name(index, caption, spans)}: span [{start}, {end}] is outside the caption "
                    f"(characters 0 to {size}, end exclusive)"
                )
            if start >= end:
                raise _invalid(
                    f"{_name(index, caption, spans)}: span [{start}, {end}] is empty (end must be greater than start)"
                )
    ordered = sorted((start, end, index) for index, spans in enumerate(entities) for start, end in spans)
    for (start, end, first), (next_start, next_end, second) in zip(ordered, ordered[1:]):
        if next_start < end:
            shared = f"characters {next_start}:{min(end, next_end)} ({caption[next_start : min(end, next_end)]!r})"
            if first == second:
                raise _invalid(
                    f"{_name(first, caption, entities[first])}: spans [{start}, {end}] and "
                    f"[{next_start}, {next_end}] overlap at {shared}"
                )
            raise _invalid(
                f"{_name(first, caption, entities[first])} and {_name(second, caption, entities[second])} overlap at "
                f"{shared}; a word piece belongs to one entity only"
            )


def whole_caption(caption: str) -> tuple[EntitySpans, ...]:
    """A referring expression: one entity, the caption without the spaces around it."""
    start = len(caption) - len(caption.lstrip())
    return (((start, len(caption.rstrip())),),)


def _widened(offsets: Sequence[Span], start: int, end: int) -> Span:
    """The smallest span of whole word pieces around ``[start, end]``."""
    for begin, finish in offsets:
        if begin < start < finish:
            start = begin
        if begin < end < finish:
            end = finish
    return start, end


def _entity_tokens(
    caption: str, index: int, spans: EntitySpans, offsets: Sequence[Span], is_word: Sequence[bool]
) -> list[int]:
    """Token positions of the word pieces inside the entity's spans (refusing a span that cuts one)."""
    tokens = []
    for start, end in spans:
        for position, (begin, finish) in enumerate(offsets):
            if finish <= begin:  # a special token
                continue
            if begin < start < finish or begin < end < finish:
                fixed = _widened(offsets, start, end)
                raise _invalid(
                    f"{_name(index, caption, spans)}: span [{start}, {end}] cuts the word piece "
                    f"{caption[begin:finish]!r} (characters {begin}:{finish}); spans start and end on word-piece "
                    f"boundaries, e.g. [{fixed[0]}, {fixed[1]}] ({caption[fixed[0] : fixed[1]]!r})"
                )
            if start <= begin and finish <= end and is_word[position]:
                tokens.append(position)
    if not tokens:
        raise _invalid(f"{_name(index, caption, spans)}: its spans hold no word the model can read")
    return tokens


def entity_prompt(
    caption: str,
    entities: Sequence[EntitySpans],
    labels: Sequence[str],
    tokenizer: TextTokenizer,
    max_text_len: int = 256,
) -> Prompt:
    """One chunk: ``caption`` as the model reads it (same length as sent), each entity a class of its word pieces."""
    (encoded,) = tokenizer.tokenize([caption])
    tokens = [_entity_tokens(caption, i, spans, encoded.offsets, encoded.is_word) for i, spans in enumerate(entities)]
    if len(encoded.input_ids) > max_text_len:
        last = max_text_len - tokenizer.special_tokens  # the last word position the model would read
        past = [_name(i, caption, spans) for i, spans in enumerate(entities) if tokens[i][-1] > last]
        raise InvalidInput(
            f"the caption is {len(encoded.input_ids)} tokens long; the model reads at most {max_text_len} (with "
            "[CLS] and [SEP]) and a caption with entities is not split"
            + (f"; past the limit: {', '.join(past)}" if past else ""),
            ErrorType.PROMPT_TOO_LONG,
        )
    token_class = torch.full((max_text_len,), -1, dtype=torch.long)
    for index, positions in enumerate(tokens):
        token_class[positions] = index
    chunk = PromptChunk(
        caption=caption,
        tokens=CaptionTokens(input_ids=list(encoded.input_ids)),
        class_ids=torch.arange(len(entities)),
        token_class=token_class,
        phrase_tokens=word_tokens(encoded.is_word, max_text_len),
        score_tokens=token_class >= 0,
    )
    return Prompt(labels=tuple(labels), chunks=(chunk,))
