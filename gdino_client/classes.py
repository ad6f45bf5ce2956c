"""The class list of a run, and how a detection's phrase maps back to one of its classes.

A run always has a class list: given outright (``--classes``, ``--classes-file``), a named
vocabulary of the service (``--vocabulary lvis``: the dataset's names, :mod:`handler.contract.vocabulary`)
or taken from the caption's dot-separated parts ("cat . remote control" -> ["cat", "remote control"]).
The class id of a detection is its index in this list; COCO category ids are that index + 1, or
the dataset's own ids for the ``coco`` vocabulary.
Names follow the server's rules (:mod:`handler.contract.class_names`): "Cat" and "cat" are one class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from handler.contract.class_names import check_class_names, class_key
from handler.contract.errors import InvalidInput
from handler.contract.vocabulary import load_vocabulary

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text``, punctuation dropped (the tokenizer splits 'hard-hat' apart)."""
    return tuple(_WORD.findall(text.lower()))


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    return any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


@dataclass(frozen=True)
class ClassList:
    """Ordered class names, de-duplicated as the server compares them (case and spacing ignored).

    ``vocabulary`` names the service's vocabulary these are (sent instead of the names), and
    ``category_ids`` the dataset's own id of each class where it has them (COCO).
    """

    names: tuple[str, ...]
    vocabulary: str | None = None
    category_ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, names: Iterable[str]) -> ClassList:
        """The first spelling of each class; a ValueError if the server would refuse the list."""
        cleaned = [" ".join(name.split()) for name in names]
        first = {}
        for name in cleaned:
            if name:
                first.setdefault(class_key(name), name)
        if not first:
            raise ValueError("the class list is empty")
        try:
            return cls(check_class_names(list(first.values())))
        except InvalidInput as error:
            raise ValueError(error.message) from None

    @classmethod
    def from_vocabulary(cls, name: str) -> ClassList:
        """The classes of a named vocabulary (a ValueError for a name the service does not have)."""
        try:
            vocabulary = load_vocabulary(name.strip().lower())
        except InvalidInput as error:
            raise ValueError(error.message) from None
        return cls(vocabulary.labels, vocabulary.key, vocabulary.category_ids)

    def category_id(self, class_id: int) -> int:
        """The COCO ``category_id`` of a class: the dataset's own id, else class id + 1."""
        return self.category_ids[class_id] if self.category_ids is not None else class_id + 1

    @classmethod
    def from_caption(cls, caption: str) -> ClassList:
        return cls.of(caption.split("."))

    @classmethod
    def from_file(cls, path: Path) -> ClassList:
        """One class a line; blank lines and lines starting with '#' are skipped."""
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls.of(line for line in lines if not line.lstrip().startswith("#"))

    def caption(self) -> str:
        """The caption that asks for every class: 'person . hard hat'."""
        return " . ".join(self.names)

    def match(self, phrase: str) -> int | None:
        """The class a detected phrase names, or None.

        In order: the class whose words equal the phrase's; else the longest class that appears
        in the phrase as a run of words ('person hard hat' -> 'hard hat'); else the class sharing
        most words with it ('hard' -> 'hard hat'); ties go to the class listed first.
        """
        said = words(phrase)
        if not said:
            return None
        named = [words(name) for name in self.names]
        for index, name in enumerate(named):
            if name == said:
                return index
        contained = [(len(name), -index) for index, name in enumerate(named) if _contains(said, name)]
        if contained:
            return -max(contained)[1]
        overlap = [(len(set(name) & set(said)), -index) for index, name in enumerate(named)]
        best = max(overlap)
        return -best[1] if best[0] > 0 else None
