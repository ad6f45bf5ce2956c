"""Class lists through a real model: a class id and a label for every box."""

from __future__ import annotations

from typing import Any

import pytest

from handler.core.pipeline import DetectionPipeline
from handler.frontends.http.batch_answers import answer_bodies
from tests.support.model_inputs import COCO

SPECIAL = ("[CLS]", "[SEP]", "[PAD]", "##")


def _assert_every_box_has_its_class(response: dict[str, Any], classes: list[str]) -> None:
    count = len(response["boxes"])
    assert count > 0
    assert len(response["class_ids"]) == len(response["labels"]) == len(response["phrases"]) == count
    assert all(0 <= class_id < len(classes) for class_id in response["class_ids"])
    assert response["labels"] == [classes[class_id] for class_id in response["class_ids"]]


@pytest.mark.parametrize("classes", [["Person", "hard hat", "steel pipe"], COCO], ids=["3", "80-coco"])
def test_every_box_gets_a_valid_class_id_and_the_callers_label(
    pipeline: DetectionPipeline, photos: dict[str, bytes], classes: list[str]
) -> None:
    response = answer_bodies(pipeline, [{"image": photos["astronaut.png"], "classes": classes, "box_threshold": 0.75}])[
        0
    ]
    _assert_every_box_has_its_class(response, classes)


def test_caption_phrases_get_labels_and_class_ids(pipeline: DetectionPipeline, photos: dict[str, bytes]) -> None:
    request = {"image": photos["chelsea.png"], "caption": "Cat . remote control", "box_threshold": 0.75}
    response = answer_bodies(pipeline, [request])[0]
    _assert_every_box_has_its_class(response, ["cat", "remote control"])


def test_class_list_and_equivalent_caption_give_the_same_detections(
    pipeline: DetectionPipeline, photos: dict[str, bytes]
) -> None:
    common = {"image": photos["chelsea.png"], "box_threshold": 0.75}
    by_classes, by_caption = answer_bodies(
        pipeline, [{**common, "classes": ["Cat", "remote control"]}, {**common, "caption": "cat . remote control ."}]
    )
    assert by_classes["boxes"] == by_caption["boxes"] and by_classes["class_ids"] == by_caption["class_ids"]
    assert set(by_classes["labels"]) <= {"Cat", "remote control"}


def test_phrases_contain_no_word_pieces_or_special_tokens(
    pipeline: DetectionPipeline, photos: dict[str, bytes]
) -> None:
    classes = ["thingamajig", "hydrant", "skateboarder", "hard hat"]
    response = answer_bodies(
        pipeline, [{"image": photos["rocket.jpg"], "classes": classes, "box_threshold": 0.7, "text_threshold": 0.0}]
    )[0]
    assert response["phrases"]
    for text in response["phrases"]:
        assert not any(marker in text for marker in SPECIAL) and "." not in text
        assert text == "thingamajig hydrant skateboarder hard hat"  # every token matched: whole words back


def test_class_without_readable_text_is_a_400_from_the_pipeline(
    pipeline: DetectionPipeline, photos: dict[str, bytes]
) -> None:
    (outcome,) = answer_bodies(pipeline, [{"image": photos["coffee.png"], "classes": ["cup", "\u200b"]}])
    assert outcome["code"] == 400 and "no text" in outcome["message"]
