"""Named vocabularies: the class lists of COCO, LVIS, Objects365, PASCAL VOC and Cityscapes.

A request may send ``"vocabulary": "lvis"`` instead of a class list. The names ship as data
files beside this module (``vocabularies/<name>.json``, each stating its source and version).
Boxes are labelled with the dataset's own names (``labels``, unique) and ``class_ids`` are their
indices; the model reads MMDetection's cleaned prompt names (:func:`prompt_name`: underscores
become spaces, a parenthesised qualifier is dropped), as MM-Grounding-DINO's ``$: lvis`` does.
Five LVIS names read the same once cleaned (``bow_(weapon)`` and ``bow_(decorative_ribbons)``
both read ``bow``): a known tie, documented in docs/prompting.md.

Torch-free: the batch client loads the same lists (the COCO export uses ``category_ids``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from handler.contract.class_names import class_key, classes_caption
from handler.contract.errors import ErrorType, InvalidInput

VOCABULARIES = ("coco", "lvis", "objects365", "voc", "cityscapes")
DATA_FOLDER = "vocabularies"
_QUALIFIER = re.compile(r"\(.*\)")  # MMDetection's clean_label_name: from the first '(' to the last ')'


def prompt_name(name: str) -> str:
    """The text the model reads for a vocabulary name: ``"bow_(weapon)"`` -> ``"bow"``."""
    return class_key(_QUALIFIER.sub("", name).replace("_", " "))


@dataclass(frozen=True)
class Vocabulary:
    """One dataset's classes, in the dataset's order."""

    key: str  # what a request sends: "coco", "lvis", ...
    title: str  # the dataset, e.g. "LVIS"
    version: str
    source: str  # where the list was taken from (project, version, file)
    labels: tuple[str, ...]  # the dataset's names: what boxes are labelled with
    category_ids: tuple[int, ...] | None = None  # the dataset's own ids (COCO), else None

    @property
    def prompt_names(self) -> tuple[str, ...]:
        return tuple(prompt_name(name) for name in self.labels)

    def caption(self) -> str:
        """The caption the model reads: the prompt names as a class list, ``"person . bicycle . ... ."``."""
        return classes_caption(self.prompt_names)


@functools.cache
def load_vocabulary(key: str) -> Vocabulary:
    """The vocabulary named ``key`` (InvalidInput ``UnknownVocabulary`` for any other name)."""
    if key not in VOCABULARIES:
        raise InvalidInput(
            f"unknown vocabulary {key!r}; the service has: {', '.join(VOCABULARIES)}", ErrorType.UNKNOWN_VOCABULARY
        )
    data = json.loads((resources.files(__package__) / DATA_FOLDER / f"{key}.json").read_text("utf-8"))
    ids = data.get("category_ids")
    return Vocabulary(
        key=key,
        title=data["name"],
        version=data["version"],
        source=data["source"],
        labels=tuple(data["classes"]),
        category_ids=tuple(ids) if ids is not None else None,
    )
