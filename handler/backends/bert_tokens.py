"""GroundingDINO's BERT tokenizer as the core's :class:`~handler.core.tokens.TextTokenizer`.

Character offsets come from the fast tokenizer; ``[CLS]``, ``[SEP]``, ``[PAD]`` and the ``.``
phrase separator are not word pieces (the model itself masks them out of phrases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handler.core.tokens import TokenizedText


class BertTokens:
    """Token ids, offsets and word pieces of captions, as GroundingDINO's text encoder reads them."""

    special_tokens = 2  # [CLS] and [SEP]

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._not_words = set(tokenizer.all_special_ids) | {tokenizer.convert_tokens_to_ids(".")}

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[TokenizedText]:
        encoded = self.tokenizer(list(texts), add_special_tokens=special_tokens, return_offsets_mapping=True)
        return [
            TokenizedText(
                input_ids=list(ids),
                offsets=[(int(start), int(end)) for start, end in offsets],
                is_word=[token not in self._not_words for token in ids],
            )
            for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"])
        ]

    def decode(self, input_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(input_ids))
