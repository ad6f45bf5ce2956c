"""What the core needs from a model's tokenizer: token ids, character offsets and word pieces.

A back end wraps its own tokenizer in a :class:`TextTokenizer`; prompt chunking, class spans
and phrase text are then the same for every model family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TokenizedText:
    """One text as the model's tokenizer cuts it."""

    input_ids: list[int]
    offsets: list[tuple[int, int]]  # characters start:end of each token in the text
    is_word: list[bool]  # False for special tokens and for the '.' that separates phrases


class TextTokenizer(Protocol):
    """A model's tokenizer, as the prompt stages use it."""

    special_tokens: int  # tokens the model adds around every caption (e.g. [CLS] and [SEP])

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[TokenizedText]:
        """Each text's tokens, with or without the special tokens around it."""
        ...

    def decode(self, input_ids: Sequence[int]) -> str:
        """The text of ``input_ids``, as the tokenizer writes it back."""
        ...
