"""Class lists and how detected phrases map back to classes (the fallback for older servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdino_client.classes import ClassList

CLASSES = ClassList.of(["person", "hard hat", "safety vest", "hat"])


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("person", 0),
        ("Hard Hat", 1),  # case does not matter
        ("hard - hat", 1),  # the tokenizer splits punctuation off
        ("person hard hat", 1),  # several classes matched: the longest contained one
        ("hat", 3),  # an exact match beats a longer class that contains it
        ("vest", 2),  # a part of a class name
        ("dog", None),
        ("", None),
    ],
)
def test_phrase_maps_to_the_class_it_names(phrase: str, expected: int | None) -> None:
    assert CLASSES.match(phrase) == expected


def test_caption_parts_become_classes_and_back() -> None:
    classes = ClassList.from_caption("cat . remote  control .")
    assert classes.names == ("cat", "remote control")
    assert classes.caption() == "cat . remote control"


def test_class_file_skips_blank_comment_and_repeated_lines(tmp_path: Path) -> None:
    path = tmp_path / "classes.txt"
    path.write_text("# site safety\nperson\n\nhard hat\nperson\n", encoding="utf-8")
    assert ClassList.from_file(path).names == ("person", "hard hat")


def test_empty_class_list_is_refused() -> None:
    with pytest.raises(ValueError):
        ClassList.of([" ", ""])


def test_class_names_differing_only_in_case_are_one_class_as_on_the_server() -> None:
    assert ClassList.of(["Cat", "cat", " dog ", "CAT"]).names == ("Cat", "dog")


def test_class_name_the_server_would_refuse_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="contains '.'"):
        ClassList.of(["hard hat", "vest.orange"])
