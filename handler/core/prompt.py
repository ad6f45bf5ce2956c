"""Token spans of a prompt's classes, and prompts past the model's 256-token limit.

A caption is a list of phrases separated by ``.``; each phrase is a class. The prompt is split
at phrase boundaries into chunks that each fit the model's text length with ``[CLS]`` and
``[SEP]``, so no class is cut in half or dropped; a prompt that fits is one chunk whose text
is exactly the caption (what the upstream reference ``predict`` would read).

Each chunk knows which tokens belong to which class (from the tokenizer's character offsets),
so a box can be given the class whose tokens score highest: a class's score is the *max* of
its tokens' probabilities, the same rule as a box's score (its best token), so the class
always contains the box's best class token. Ties go to the earlier class.

``classes_per_chunk`` (MMDetection's ``chunked_size``) splits instead by a fixed count of
classes. Entity and referring prompts (``handler.core.entities``) are one chunk whose classes
are the caller's entities; they also set ``score_tokens``, the only tokens a box may score on.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from handler.contract.errors import ErrorType, InvalidInput
from handler.core.packing import pack
from handler.core.tokens import TextTokenizer

_PHRASE = re.compile(r"[^.]*\.")


@dataclass(frozen=True)
class CaptionTokens:
    """A caption's token ids, as the model sees them."""

    input_ids: list[int]


@dataclass(frozen=True)
class PromptChunk:
    """One model input's text: its tokens, and the caller's class of every class token."""

    caption: str
    tokens: CaptionTokens
    class_ids: torch.Tensor  # long (k,): the caller's index of each class in this chunk
    token_class: torch.Tensor  # long (max_text_len,): index into class_ids of each token, -1 if none
    phrase_tokens: torch.Tensor  # bool (max_text_len,): the tokens that can be part of a phrase (word pieces)
    score_tokens: torch.Tensor | None = None  # bool (max_text_len,): the tokens a box scores on; None: all


@dataclass(frozen=True)
class Prompt:
    """A request's class names (``labels[class_id]``) and the chunks the model reads."""

    labels: tuple[str, ...]
    chunks: tuple[PromptChunk, ...]


@dataclass(frozen=True)
class _Piece:
    """Characters ``start:end`` of the caption holding one phrase and its closing dot."""

    start: int
    end: int
    label: str


def _pieces(caption: str) -> list[_Piece]:
    """The caption cut into consecutive pieces, one per non-empty phrase (stray dots join a neighbour)."""
    pieces: list[_Piece] = []
    start = 0
    for match in _PHRASE.finditer(caption):
        label = match.group()[:-1].strip()
        if label:
            pieces.append(_Piece(start, match.end(), label))
            start = match.end()
    if pieces and start < len(caption):
        pieces[-1] = _Piece(pieces[-1].start, len(caption), pieces[-1].label)
    return pieces


def _pack(
    pieces: Sequence[_Piece], caption: str, tokenizer: TextTokenizer, budget: int, classes_per_chunk: int | None
) -> list[list[int]]:
    """Consecutive piece indices per chunk: at most ``budget`` tokens each, or ``classes_per_chunk`` pieces each."""
    texts = [caption[piece.start : piece.end] for piece in pieces]
    encoded = tokenizer.tokenize(texts, special_tokens=False)
    for piece, tokens in zip(pieces, encoded):
        ids = tokens.input_ids
        if not any(tokens.is_word):
            raise InvalidInput(
                f"class or phrase {piece.label!r} has no text the model can read", ErrorType.INVALID_CLASSES
            )
        if len(ids) > budget:
            raise InvalidInput(
                f"class or phrase {piece.label[:60]!r} is {len(ids)} tokens long; one class may have at most "
                f"{budget} tokens (with its '.')",
                ErrorType.PROMPT_TOO_LONG,
            )
    sizes = [len(tokens.input_ids) for tokens in encoded]
    if classes_per_chunk is None:
        return pack(range(len(pieces)), sizes, budget)
    runs = pack(range(len(pieces)), [1] * len(pieces), classes_per_chunk)
    for number, run in enumerate(runs):
        tokens = sum(sizes[i] for i in run)
        if tokens > budget:
            raise InvalidInput(
                f"'classes_per_chunk' {classes_per_chunk} puts {tokens} tokens into chunk {number} (classes "
                f"{run[0]} to {run[-1]}); the model reads at most {budget} per chunk: send a smaller "
                "'classes_per_chunk', or none to pack as many classes as fit",
                ErrorType.PROMPT_TOO_LONG,
            )
    return runs


def _chunk(
    caption: str, pieces: Sequence[_Piece], ids: Sequence[int], tokenizer: TextTokenizer, max_text_len: int
) -> PromptChunk:
    """Tokenize the text of ``pieces[ids]`` and map each class token to its class."""
    first, last = pieces[ids[0]], pieces[ids[-1]]
    raw = caption[first.start : last.end]
    text = raw.strip()
    shift = first.start + len(raw) - len(raw.lstrip())
    (encoded,) = tokenizer.tokenize([text])
    starts = [pieces[i].start - shift for i in ids]
    token_class = torch.full((max_text_len,), -1, dtype=torch.long)
    for position, ((begin, _), word) in enumerate(zip(encoded.offsets, encoded.is_word)):
        if word:
            token_class[position] = bisect.bisect_right(starts, begin) - 1
    return PromptChunk(
        caption=text,
        tokens=CaptionTokens(input_ids=list(encoded.input_ids)),
        class_ids=torch.tensor(list(ids), dtype=torch.long),
        token_class=token_class,
        phrase_tokens=word_tokens(encoded.is_word, max_text_len),
    )


def word_tokens(is_word: Sequence[bool], max_text_len: int) -> torch.Tensor:
    """bool (max_text_len,): True at the word pieces of a tokenized caption."""
    mask = torch.zeros(max_text_len, dtype=torch.bool)
    mask[: len(is_word)] = torch.tensor(is_word, dtype=torch.bool)
    return mask


def build_prompt(
    caption: str,
    tokenizer: TextTokenizer,
    labels: Sequence[str] | None = None,
    max_text_len: int = 256,
    classes_per_chunk: int | None = None,
) -> Prompt:
    """The chunks of a normalised caption; ``labels`` names its phrases (default: the phrases' text)."""
    pieces = _pieces(caption)
    if labels is not None and len(labels) != len(pieces):
        raise ValueError(f"{len(labels)} labels for {len(pieces)} phrases in {caption[:80]!r}")
    chunks = _pack(pieces, caption, tokenizer, max_text_len - tokenizer.special_tokens, classes_per_chunk)
    return Prompt(
        labels=tuple(labels) if labels is not None else tuple(piece.label for piece in pieces),
        chunks=tuple(_chunk(caption, pieces, ids, tokenizer, max_text_len) for ids in chunks),
    )


def assign_classes(probs: torch.Tensor, chunk: PromptChunk) -> torch.Tensor:
    """The caller's class id of each row of ``probs`` (n, max_text_len): the class with the best token."""
    positions = chunk.token_class >= 0
    owners = chunk.token_class[positions].expand(len(probs), -1)
    per_class = torch.zeros((len(probs), len(chunk.class_ids)), dtype=probs.dtype)
    per_class.scatter_reduce_(1, owners, probs[:, positions], reduce="amax", include_self=False)
    return chunk.class_ids[per_class.argmax(dim=1)]
