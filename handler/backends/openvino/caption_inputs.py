"""A caption as GroundingDINO's text encoder reads it: the tensors the caption graph takes.

The same tokenization and phrase masks as the upstream forward (with the project's fixed mask
generation, ``batch_invariance``), for one caption: token ids, token types, phrase-relative
position ids, the phrase-block attention mask and the token mask, each cut to ``max_text_len``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from handler.backends.upstream.batch_invariance import generate_masks_with_special_tokens_and_transfer_map

SPECIAL_TOKENS = ("[CLS]", "[SEP]", ".", "?")  # what upstream's forward treats as phrase delimiters


def caption_inputs(tokenizer: Any, caption: str, max_text_len: int) -> tuple[Tensor, ...]:
    """``TEXT_INPUTS`` of ``model_files`` for ``caption``, each with a batch dimension of 1."""
    tokenized = tokenizer([caption], padding="longest", return_tensors="pt")
    special = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    masks, position_ids, _ = generate_masks_with_special_tokens_and_transfer_map(tokenized, special, tokenizer)
    n = max_text_len
    return (
        tokenized["input_ids"][:, :n],
        tokenized["token_type_ids"][:, :n],
        position_ids[:, :n],
        masks[:, :n, :n],
        tokenized["attention_mask"][:, :n].bool(),
    )
